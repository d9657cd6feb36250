// Running guests with the real CLI against the real kernel: start, destroy,
// supervision and cleanup, inside a private network namespace (veth parent).
// The guests have no OS (QEMU sits in its firmware); the end-to-end suite
// with a booting guest is tests/e2e*.
#include <config.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "testcommand.h"
#include "testnetns.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virjson.h"

namespace {

using vd::test::RunResult;

class VirtDirectRunTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirtDirectRunTest);
    CPPUNIT_TEST(testStartDestroy);
    CPPUNIT_TEST(testCreateTransient);
    CPPUNIT_TEST(testMissingSourceLeavesNothing);
    CPPUNIT_TEST(testForeignMacvtapSkippedAndKept);
    CPPUNIT_TEST(testUserNameCollisionKeepsForeignDevice);
    CPPUNIT_TEST(testTargetDevTemplate);
    CPPUNIT_TEST(testQemuKilled);
    CPPUNIT_TEST(testSupervisorKilled);
    CPPUNIT_TEST(testConcurrentStarts);
    CPPUNIT_TEST(testInterruptedStart);
    CPPUNIT_TEST(testCtrlCCancelsSlowStart);
    CPPUNIT_TEST(testSetLink);
    CPPUNIT_TEST(testConcurrentSetLink);
    CPPUNIT_TEST(testSupervisorFds);
    CPPUNIT_TEST(testShutdownPressesPowerButton);
    CPPUNIT_TEST(testStalePidsOfAnotherDomain);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override
    {
        if (!vd::test::isRoot())
            vd::test::skip("needs root for network namespaces");
        qemu_ = vd::test::hostQemu();
        ns_ = std::make_unique<vd::test::TestNetns>();
        root_ = std::make_unique<vd::test::TempDir>();
    }
    void tearDown() override
    {
        // Stop whatever a failed test left running, by the pids we recorded.
        for (const auto &name : started_)
            vd({"destroy", name});
        root_.reset();
        ns_.reset();
    }

    RunResult vd(const std::vector<std::string> &args)
    {
        return vd::test::runVirtDirect(ns_->name(), root_->path(), args);
    }

    // A domain with `nics` direct NICs on the namespace's veth parent.
    std::string writeDomain(const std::string &name, unsigned nics,
                            const std::string &extraNic = "")
    {
        std::string xml = "<domain type='qemu'>\n  <name>" + name +
                          "</name>\n  <memory unit='MiB'>64</memory>\n  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                          "  <devices>\n    <emulator>" + qemu_ + "</emulator>\n";
        for (unsigned i = 0; i < nics; ++i)
            xml += "    <interface type='direct'><source dev='" + vd::test::TestNetns::parent() +
                   "' mode='bridge'/><model type='virtio'/></interface>\n";
        xml += extraNic;
        xml += "  </devices>\n</domain>\n";
        std::string path = root_->path() + "/" + name + ".xml";
        std::ofstream(path) << xml;
        return path;
    }

    void defineAndStart(const std::string &name, unsigned nics)
    {
        auto r = vd({"define", writeDomain(name, nics)});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        r = vd({"start", name});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL("Domain '" + name + "' started\n\n", r.out);
        started_.push_back(name);
    }

    std::vector<std::string> macvtaps()
    {
        std::vector<std::string> out;
        for (const auto &l : ns_->links())
            if (l.rfind("macvtap", 0) == 0 || l.rfind("mytap", 0) == 0)
                out.push_back(l);
        return out;
    }

    static std::string joined(const std::vector<std::string> &v)
    {
        std::string out;
        for (const auto &s : v)
            out += s + " ";
        return out;
    }

    std::string runDir() const { return root_->path() + "/run/qemu"; }

    // Runtime files of a domain that must not survive it.
    void assertNoRuntimeState(const std::string &name)
    {
        for (const char *suffix : {".xml", ".state.json", ".ctl", ".qmp", ".lock"})
            CPPUNIT_ASSERT_MESSAGE(name + suffix,
                                   !std::filesystem::exists(runDir() + "/" + name + suffix));
        std::string names;
        try {
            names = vd::test::readText(runDir() + "/netdev/names");
        } catch (const std::exception &) {
        }
        CPPUNIT_ASSERT_MESSAGE(names, names.find("\"" + name + "\"") == std::string::npos);
    }

    vd::JsonValue state(const std::string &name)
    {
        return vd::JsonValue::parse(vd::test::readText(runDir() + "/" + name + ".state.json"));
    }

    // Zombies count as gone: whoever reaps our detached supervisors (init,
    // or a sandbox's pid 1) may take its time.
    static bool alive(pid_t pid)
    {
        std::string stat;
        try {
            stat = vd::test::readText("/proc/" + std::to_string(pid) + "/stat");
        } catch (const std::exception &) {
            return false;
        }
        auto paren = stat.rfind(')');
        return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
    }

    // Whether a live process has `word` as one of its arguments.
    static bool processRuns(const std::string &word)
    {
        for (const auto &e : std::filesystem::directory_iterator("/proc")) {
            std::string cmdline;
            try {
                cmdline = vd::test::readText(e.path().string() + "/cmdline");
            } catch (const std::exception &) {
                continue;
            }
            if (("\0" + cmdline).find("\0" + word + "\0") != std::string::npos ||
                cmdline.rfind(word + "\0", 0) == 0)
                return true;
        }
        return false;
    }

    void waitFor(const std::function<bool()> &cond, double seconds, const std::string &what)
    {
        auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(seconds * 1000));
        while (!cond()) {
            if (std::chrono::steady_clock::now() > deadline)
                CPPUNIT_FAIL("timed out waiting for " + what);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    void testStartDestroy()
    {
        defineAndStart("g1", 2);
        auto r = vd({"list"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" 1    g1     running") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(size_t(2), macvtaps().size());

        r = vd({"domiflist", "g1"});
        CPPUNIT_ASSERT_EQUAL(0, r.status);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" Interface   Type     Source   Model    MAC") == 0);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("macvtap") != std::string::npos);

        r = vd({"dumpxml", "g1"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<domain type='qemu' id='1'>") == 0);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<target dev='macvtap") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<alias name='net1'/>") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<address type='pci'") != std::string::npos);
        r = vd({"dumpxml", "--inactive", "g1"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("macvtap") == std::string::npos);

        // A second start is refused and changes nothing.
        r = vd({"start", "g1"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Domain 'g1' is already active\n"), r.err);
        CPPUNIT_ASSERT_EQUAL(size_t(2), macvtaps().size());

        auto st = state("g1");
        pid_t qemu = static_cast<pid_t>(st.get("qemuPid").asInt());
        pid_t sup = static_cast<pid_t>(st.get("supervisorPid").asInt());
        r = vd({"destroy", "g1"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'g1' destroyed\n\n"), r.out);
        CPPUNIT_ASSERT(!alive(qemu));
        // The supervisor closes its control connections (which ends the
        // wait of destroy) as its last act; its exit may trail by moments.
        waitFor([&] { return !alive(sup); }, 30.0, "the supervisor to exit");
        CPPUNIT_ASSERT(macvtaps().empty());
        assertNoRuntimeState("g1");
        r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" -    g1     shut off") != std::string::npos);
        r = vd({"destroy", "g1"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
    }

    void testCreateTransient()
    {
        auto r = vd({"create", writeDomain("t1", 1)});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        started_.push_back("t1");
        r = vd({"list"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("t1") != std::string::npos);
        r = vd({"start", "t1"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Domain 't1' is already active\n"), r.err);
        CPPUNIT_ASSERT_EQUAL(0, vd({"destroy", "t1"}).status);
        r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("t1") == std::string::npos);
        CPPUNIT_ASSERT(macvtaps().empty());
    }

    void testMissingSourceLeavesNothing()
    {
        std::string bad = "    <interface type='direct'><source dev='missing0' "
                          "mode='bridge'/><model type='virtio'/></interface>\n";
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("bad", 2, bad)}).status);
        auto r = vd({"start", "bad"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Failed to start domain 'bad'\n"
                                         "error: Unable to get index for interface missing0: "
                                         "No such device\n"),
                             r.err);
        CPPUNIT_ASSERT(macvtaps().empty());
        assertNoRuntimeState("bad");
        // The names the failed start had taken are free for the next one.
        defineAndStart("good", 2);
        CPPUNIT_ASSERT_EQUAL(size_t(2), macvtaps().size());
    }

    void testForeignMacvtapSkippedAndKept()
    {
        ns_->ip({"link", "add", "link", vd::test::TestNetns::parent(), "name", "macvtap3", "type",
                 "macvtap", "mode", "bridge"});
        defineAndStart("g", 5);
        auto r = vd({"domiflist", "g"});
        std::set<std::string> ours;
        for (int i = 0; i <= 6; ++i)
            if (r.out.find(" macvtap" + std::to_string(i) + " ") != std::string::npos)
                ours.insert("macvtap" + std::to_string(i));
        CPPUNIT_ASSERT_MESSAGE(r.out, !ours.count("macvtap3"));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.out, size_t(5), ours.size());
        CPPUNIT_ASSERT_EQUAL(0, vd({"destroy", "g"}).status);
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap3 "), joined(macvtaps()));
    }

    void testUserNameCollisionKeepsForeignDevice()
    {
        ns_->ip({"link", "add", "link", vd::test::TestNetns::parent(), "name", "mytap0", "type",
                 "macvtap", "mode", "bridge"});
        std::string nic = "    <interface type='direct'><source dev='" +
                          vd::test::TestNetns::parent() +
                          "' mode='bridge'/><target dev='mytap0'/><model type='virtio'/></interface>\n";
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("u", 1, nic)}).status);
        auto r = vd({"start", "u"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_MESSAGE(r.err, r.err.find("mytap0") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("mytap0 "), joined(macvtaps()));
        assertNoRuntimeState("u");
    }

    // The schema refuses <target dev='mytap%d'/>, but the semantic checks
    // accept the template, so a hand-edited definition reaches start: it
    // names the devices mytap0, mytap1, ...; the definition keeps the
    // template and destroy removes exactly those devices.  (The template
    // used to go to the kernel as is and the device stayed behind.)
    void testTargetDevTemplate()
    {
        auto nic = [](const std::string &dev) {
            return "    <interface type='direct'><source dev='" +
                   vd::test::TestNetns::parent() + "' mode='bridge'/><target dev='" + dev +
                   "'/><model type='virtio'/></interface>\n";
        };
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("tp", 0, nic("mytapa") + nic("mytapb"))}).status);
        std::string config = root_->path() + "/etc/qemu/tp.xml";
        std::string xml = vd::test::readText(config);
        for (const char *dev : {"mytapa", "mytapb"})
            xml.replace(xml.find(dev), 6, "mytap%d");
        std::ofstream(config) << xml;
        for (int round = 0; round < 2; ++round) {
            auto r = vd({"start", "tp"});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
            started_.push_back("tp");
            CPPUNIT_ASSERT_EQUAL(std::string("mytap0 mytap1 "), joined(macvtaps()));
            r = vd({"dumpxml", "tp"});
            CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<target dev='mytap1'") != std::string::npos);
            r = vd({"dumpxml", "--inactive", "tp"});
            CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<target dev='mytap%d'/>") != std::string::npos);
            r = vd({"destroy", "tp"});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
            CPPUNIT_ASSERT(macvtaps().empty());
            assertNoRuntimeState("tp");
        }
    }

    void testQemuKilled()
    {
        defineAndStart("k", 2);
        auto st = state("k");
        pid_t qemu = static_cast<pid_t>(st.get("qemuPid").asInt());
        pid_t sup = static_cast<pid_t>(st.get("supervisorPid").asInt());
        CPPUNIT_ASSERT_EQUAL(0, ::kill(qemu, SIGKILL));
        // The supervisor notices at once and tears everything down.
        waitFor([&] { return macvtaps().empty() && !alive(sup); }, 1.0,
                "cleanup after kill -9 of QEMU");
        assertNoRuntimeState("k");
        auto r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" -    k      shut off") != std::string::npos);
    }

    void testSupervisorKilled()
    {
        defineAndStart("s", 2);
        auto st = state("s");
        pid_t qemu = static_cast<pid_t>(st.get("qemuPid").asInt());
        pid_t sup = static_cast<pid_t>(st.get("supervisorPid").asInt());
        CPPUNIT_ASSERT_EQUAL(0, ::kill(sup, SIGKILL));
        waitFor([&] { return !alive(sup); }, 2.0, "supervisor to die");
        // The next command that looks at the domain finds out and cleans up.
        auto r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" -    s      shut off") != std::string::npos);
        waitFor([&] { return !alive(qemu); }, 5.0, "QEMU to be gone");
        CPPUNIT_ASSERT(macvtaps().empty());
        assertNoRuntimeState("s");
    }

    void testConcurrentStarts()
    {
        const int n = 10;
        for (int i = 0; i < n; ++i)
            CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("c" + std::to_string(i), 2)}).status);
        std::vector<RunResult> results(n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
            started_.push_back("c" + std::to_string(i));
            threads.emplace_back([&, i] { results[i] = vd({"start", "c" + std::to_string(i)}); });
        }
        for (auto &t : threads)
            t.join();
        for (int i = 0; i < n; ++i)
            CPPUNIT_ASSERT_EQUAL_MESSAGE(results[i].err, 0, results[i].status);
        auto taps = macvtaps();
        CPPUNIT_ASSERT_EQUAL(size_t(2 * n), taps.size());
        CPPUNIT_ASSERT_EQUAL(taps.size(), std::set<std::string>(taps.begin(), taps.end()).size());
        auto r = vd({"list"});
        for (int i = 0; i < n; ++i)
            CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("c" + std::to_string(i) + " ") != std::string::npos);
        for (int i = 0; i < n; ++i)
            CPPUNIT_ASSERT_EQUAL(0, vd({"destroy", "c" + std::to_string(i)}).status);
        CPPUNIT_ASSERT(macvtaps().empty());
    }

    // Ctrl-C at any moment of a start: afterwards the domain is either
    // running with its macvtaps up, or gone without a trace.
    void testInterruptedStart()
    {
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("i", 2)}).status);
        for (int delayMs = 5; delayMs <= 80; delayMs += 5) {
            vd::Command cmd(IP_PATH,
                            {"netns", "exec", ns_->name(), vd::test::buildDir() + "/tools/virt-direct",
                             "--root", root_->path(), "start", "i"});
            vd::Child cli = cmd.spawn();
            std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
            cli.kill(SIGINT);
            auto st = cli.wait();
            std::string what = "SIGINT after " + std::to_string(delayMs) + " ms (" +
                               st.describe() + "): ";
            if (vd({"list"}).out.find(" i ") != std::string::npos) {
                auto links = vd::test::runProgram(
                    {IP_PATH, "-n", ns_->name(), "-o", "link", "show"}).out;
                size_t up = 0;
                for (size_t pos = 0; (pos = links.find(": macvtap", pos)) != std::string::npos;
                     ++pos) {
                    std::string line = links.substr(pos, links.find('\n', pos) - pos);
                    up += line.find(",UP") != std::string::npos ||
                          line.find("<UP") != std::string::npos;
                }
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what + links, size_t(2), up);
                CPPUNIT_ASSERT_EQUAL(0, vd({"destroy", "i"}).status);
            } else {
                CPPUNIT_ASSERT_MESSAGE(what + joined(macvtaps()), macvtaps().empty());
                assertNoRuntimeState("i");
            }
        }
    }

    // Ctrl-C while QEMU is slow to come up cancels the start (it does not
    // wait for QEMU) and leaves nothing behind.  "Did not wait" is checked
    // by order, not by the clock: the wrapper never got past its sleep.
    void testCtrlCCancelsSlowStart()
    {
        std::string wrapper = root_->path() + "/slow-qemu";
        std::string reached = root_->path() + "/qemu-reached";
        std::string sleepPid = root_->path() + "/sleep.pid";
        std::ofstream(wrapper) << "#!/bin/sh\n"
                                  "case \"$*\" in *guest=*)\n"
                                  "  sleep 60 & echo $! >" << sleepPid << "; wait $!\n"
                                  "  touch " << reached << ";;\n"
                                  "esac\n"
                                  "exec " << vd::test::hostQemu() << " \"$@\"\n";
        std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
        std::string xml = vd::test::readText(writeDomain("slow", 2));
        std::string qemu = "<emulator>" + vd::test::hostQemu() + "</emulator>";
        xml.replace(xml.find(qemu), qemu.size(), "<emulator>" + wrapper + "</emulator>");
        std::ofstream(root_->path() + "/slow.xml") << xml;
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", root_->path() + "/slow.xml"}).status);
        vd::Child cli = vd::Command(IP_PATH,
                                    {"netns", "exec", ns_->name(),
                                     vd::test::buildDir() + "/tools/virt-direct", "--root",
                                     root_->path(), "start", "slow"})
                            .spawn();
        waitFor([&] { return macvtaps().size() == 2; }, 10.0, "the start to create its macvtaps");
        cli.kill(SIGINT);
        auto st = cli.waitFor(std::chrono::seconds(60));
        CPPUNIT_ASSERT(st.has_value());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(st->describe(), true, st->signaled());
        CPPUNIT_ASSERT(!std::filesystem::exists(reached));
        // The cancelled start stops "QEMU" (the wrapper's shell); then its
        // orphaned sleep can go too.
        waitFor([&] { return !processRuns(wrapper); }, 60.0, "the wrapper to be stopped");
        if (std::filesystem::exists(sleepPid))
            if (pid_t p = static_cast<pid_t>(std::atol(vd::test::readText(sleepPid).c_str())); p > 0)
                ::kill(p, SIGKILL);
        CPPUNIT_ASSERT_MESSAGE(joined(macvtaps()), macvtaps().empty());
        assertNoRuntimeState("slow");
        auto r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" -    slow   shut off") != std::string::npos);
    }

    void testSetLink()
    {
        defineAndStart("l", 1);
        auto r = vd({"domiflist", "l"});
        auto pos = r.out.find(" macvtap");
        CPPUNIT_ASSERT(pos != std::string::npos);
        std::string ifname = r.out.substr(pos + 1, r.out.find(' ', pos + 1) - pos - 1);
        CPPUNIT_ASSERT_EQUAL(ifname + " up\n", vd({"domif-getlink", "l", ifname}).out);
        r = vd({"domif-setlink", "l", ifname, "down"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(ifname + " down\n", vd({"domif-getlink", "l", ifname}).out);
        CPPUNIT_ASSERT(vd({"dumpxml", "l"}).out.find("<link state='down'/>") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(0, vd({"domif-setlink", "l", ifname, "up"}).status);
        r = vd({"domif-setlink", "l", "nosuch0", "up"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: interface (target: nosuch0) not found\n"), r.err);
    }

    // domif-setlink on different NICs of one domain at the same time: each
    // rewrites the live XML, and neither change may be lost.
    void testConcurrentSetLink()
    {
        const unsigned nics = 4;
        defineAndStart("cl", nics);
        auto live = vd({"domiflist", "cl"}).out;
        std::vector<std::string> ifnames;
        for (size_t pos = 0; (pos = live.find(" macvtap", pos)) != std::string::npos; ++pos)
            ifnames.push_back(live.substr(pos + 1, live.find(' ', pos + 1) - pos - 1));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(live, size_t(nics), ifnames.size());
        for (const char *state : {"down", "up", "down"}) {
            std::vector<RunResult> results(nics);
            std::vector<std::thread> threads;
            for (unsigned i = 0; i < nics; ++i)
                threads.emplace_back(
                    [&, i] { results[i] = vd({"domif-setlink", "cl", ifnames[i], state}); });
            for (auto &t : threads)
                t.join();
            for (unsigned i = 0; i < nics; ++i) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(results[i].err, 0, results[i].status);
                CPPUNIT_ASSERT_EQUAL(ifnames[i] + " " + state + "\n",
                                     vd({"domif-getlink", "cl", ifnames[i]}).out);
            }
        }
    }

    // The supervisor holds exactly: stdio, one reference per tap
    // queue, its event loop (epoll, eventfd, signalfd, QEMU's pidfd), the QMP
    // connection and the control socket.  Anything more is a leak.
    void testSupervisorFds()
    {
        std::string nic = "    <interface type='direct'><source dev='" +
                          vd::test::TestNetns::parent() +
                          "' mode='bridge'/><model type='virtio'/><driver queues='3'/></interface>\n";
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("f", 2, nic)}).status);
        auto r = vd({"start", "f"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        started_.push_back("f");
        pid_t sup = static_cast<pid_t>(state("f").get("supervisorPid").asInt());
        std::string fdDir = "/proc/" + std::to_string(sup) + "/fd";
        size_t total = 0, taps = 0, sockets = 0, devnull = 0, log = 0;
        std::string listing;
        for (const auto &e : std::filesystem::directory_iterator(fdDir)) {
            std::error_code ec;
            std::string target = std::filesystem::read_symlink(e.path(), ec).string();
            listing += e.path().filename().string() + " -> " + target + "\n";
            ++total;
            taps += target.rfind("/dev/", 0) == 0 && target.find("tap") != std::string::npos;
            sockets += target.rfind("socket:", 0) == 0;
            devnull += target == "/dev/null";
            log += target == runDir() + "/f.log";
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE(listing, size_t(5), taps); // 1 + 1 + 3 queues
        CPPUNIT_ASSERT_EQUAL_MESSAGE(listing, size_t(2), sockets);
        // stdin and stdout are /dev/null, stderr is the domain log.
        CPPUNIT_ASSERT_EQUAL_MESSAGE(listing, size_t(2), devnull);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(listing, size_t(1), log);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(listing, size_t(3 + 5 + 2 + 4), total);
    }

    // With no OS to handle it the button press changes nothing, but QEMU
    // must have received it (its POWERDOWN event lands in the domain log).
    void testShutdownPressesPowerButton()
    {
        defineAndStart("p", 1);
        auto r = vd({"shutdown", "p"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'p' is being shutdown\n\n"), r.out);
        waitFor([&] {
            return vd::test::readText(runDir() + "/p.log").find("POWERDOWN") != std::string::npos;
        }, 5.0, "the POWERDOWN event in the domain log");
        r = vd({"shutdown", "nosuch"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: failed to get domain 'nosuch'\n"
                                         "error: Domain not found: no domain with matching name "
                                         "'nosuch'\n"),
                             r.err);
    }

    // A stale state file whose pids now belong to processes of domain
    // "g10" (pid reuse): g1's cleanup must neither take them for g1's (it
    // would never clean up) nor kill them.
    void testStalePidsOfAnotherDomain()
    {
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", writeDomain("g1", 1)}).status);
        auto fake = [](const std::vector<std::string> &tail) {
            std::vector<std::string> args{"-c", "while :; do sleep 0.1; done"};
            args.insert(args.end(), tail.begin(), tail.end());
            return vd::Command("/bin/sh", args).spawn();
        };
        vd::Child otherSupervisor = fake({"supervise", "g10"});
        vd::Child otherQemu = fake({"-name", "guest=g10,debug-threads=on"});
        std::filesystem::create_directories(runDir());
        auto writeState = [&](pid_t sup, pid_t qemu) {
            std::ofstream(runDir() + "/g1.state.json")
                << vd::JsonValue::object({{"supervisorPid", static_cast<int64_t>(sup)},
                                          {"qemuPid", static_cast<int64_t>(qemu)},
                                          {"state", vd::JsonValue::object()}})
                       .toString();
        };

        // g1's supervisor pid now runs g10's supervisor: g1 is not running.
        writeState(otherSupervisor.pid(), otherQemu.pid());
        auto r = vd({"list", "--all"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find(" -    g1     shut off") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE("stale state of g1 was not cleaned up",
                               !std::filesystem::exists(runDir() + "/g1.state.json"));
        // ... and g10's QEMU is left alone.
        CPPUNIT_ASSERT(otherQemu.running() && !otherQemu.tryWait());

        // g1's supervisor is gone, its QEMU pid runs g10's QEMU.
        writeState(999999999, otherQemu.pid());
        r = vd({"destroy", "g1"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT(!std::filesystem::exists(runDir() + "/g1.state.json"));
        CPPUNIT_ASSERT_MESSAGE("the QEMU of another domain was killed", !otherQemu.tryWait());
        CPPUNIT_ASSERT(!otherSupervisor.tryWait());
    }

private:
    std::unique_ptr<vd::test::TestNetns> ns_;
    std::string qemu_; // the host QEMU, as test::hostQemu() finds it
    std::unique_ptr<vd::test::TempDir> root_;
    std::vector<std::string> started_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirtDirectRunTest);

} // namespace
