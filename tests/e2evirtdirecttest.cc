// End-to-end tests of `virt-direct start` with a real guest.
//
// Inside a private network namespace (veth pairs, nothing in the root
// namespace), the real CLI defines and starts a domain whose direct NICs sit
// on one end of a veth pair.  The guest -- Debian's cloud kernel and a
// busybox initramfs built by tests/guest/build-guest.sh -- configures its
// NICs from `vd.*` kernel parameters, pings an address on the other end of
// each veth pair, sends a UDP datagram that a listener there must receive,
// prints markers on its serial port and powers off.  The serial port is a
// <serial type='file'>: the domain log <root>/run/qemu/NAME.log holds QEMU's
// own output and the supervisor's notes (command line, QMP events, exit
// status), not the guest's console.
// Afterwards the domain must be shut off with nothing left: no macvtap, no
// runtime file, no reserved name, no process.
//
// The CLI runs under `ip netns exec` like a user would run it, so it sees
// the namespace's own sysfs.  QEMU uses TCG (domain type 'qemu').
//
// The guest kit is built once per run and cached in $VD_GUEST_CACHE
// (default /var/tmp/virt-direct-guest).  The suite is skipped, not failed,
// when the kit cannot be built here (no kernel package to download, not
// root); VD_SKIP_E2E=1 skips it too.
#include <config.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <thread>

#include "testcommand.h"
#include "testnetns.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virjson.h"

namespace {

using vd::test::RunResult;
using Clock = std::chrono::steady_clock;

std::string guestCache()
{
    const char *c = std::getenv("VD_GUEST_CACHE");
    return c && *c ? c : "/var/tmp/virt-direct-guest";
}

// Build (or find up to date) the guest kit once per test run.  Returns an
// empty string on success, else why the suite must be skipped; throws when
// the build failed for another reason (that is a test failure).
const std::string &guestKitProblem()
{
    static std::optional<std::string> problem;
    static std::string failure; // a failed build is not retried by every test
    if (!failure.empty())
        throw std::runtime_error(failure);
    if (problem)
        return *problem;
    vd::Command build("sh", {vd::test::srcDir() + "/guest/build-guest.sh", guestCache()});
    auto out = build.run(std::chrono::seconds(600));
    if (out.status.exited() && out.status.exitCode() == 77) {
        // build-guest.sh says why on its last line ("build-guest: ...").
        std::string why = out.output;
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        problem = "guest kit unavailable: " + why.substr(why.rfind('\n') + 1);
    }
    else if (!out.status.success())
        throw std::runtime_error(failure = "building the guest kit " + out.status.describe() +
                                           ":\n" + out.output);
    else
        problem = "";
    return *problem;
}

// One NIC of a test domain and the veth pair it sits on.
struct Nic {
    std::string parent;  // veth end the macvtap sits on
    std::string peerDev; // the other end, holding the peer address
    std::string mode;    // bridge, vepa, private
    std::string mac;
    std::string guestIp; // with prefix
    std::string peerIp;
    unsigned queues = 0; // 0: no <driver queues>
};

class E2eVirtDirectTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(E2eVirtDirectTest);
    CPPUNIT_TEST(testBridgeGuestPowersOff);
    CPPUNIT_TEST(testTwoNicsBridgeAndVepa);
    CPPUNIT_TEST(testMultiqueueBridgeAndPrivate);
    CPPUNIT_TEST(testDestroyRunningGuest);
    CPPUNIT_TEST(testSetLinkSeenByGuest);
    CPPUNIT_TEST(testTransientGuestPowersOff);
    CPPUNIT_TEST(testGuestPanicEndsDomain);
    CPPUNIT_TEST_SUITE_END();

public:
    static constexpr int kPort = 5555;
    // A TCG boot takes ~4 s on an idle 2-core machine; leave room for a
    // loaded one.
    static constexpr double kGuestTimeout = 240.0;

    void setUp() override
    {
        if (const char *s = std::getenv("VD_SKIP_E2E"); s && *s && std::string(s) != "0")
            vd::test::skip("VD_SKIP_E2E is set");
        if (!vd::test::isRoot())
            vd::test::skip("needs root (network namespaces)");
        qemu_ = vd::test::hostQemu();
        if (!guestKitProblem().empty())
            vd::test::skip(guestKitProblem());
        ns_ = std::make_unique<vd::test::TestNetns>();
        root_ = std::make_unique<vd::test::TempDir>();
    }

    void tearDown() override
    {
        // A failed test may leave a guest running: destroy it through the
        // CLI (which kills only the pids it recorded) before the namespace
        // goes away.
        for (const auto &name : started_)
            vd({"destroy", name});
        listeners_.clear();
        root_.reset();
        ns_.reset();
    }

    RunResult vd(const std::vector<std::string> &args)
    {
        return vd::test::runVirtDirect(ns_->name(), root_->path(), args);
    }

    // NIC k on veth pair k: the fixture's vdp0/vdp1 for k = 0, further
    // pairs vdpK/vdqK created here.
    Nic nic(unsigned k, const std::string &mode)
    {
        Nic n;
        if (k == 0) {
            n.parent = vd::test::TestNetns::parent();
            n.peerDev = vd::test::TestNetns::peer();
        } else {
            n.parent = "vdp" + std::to_string(k + 1);
            n.peerDev = "vdq" + std::to_string(k + 1);
            ns_->ip({"link", "add", n.parent, "type", "veth", "peer", "name", n.peerDev});
            ns_->ip({"link", "set", n.parent, "up"});
            ns_->ip({"link", "set", n.peerDev, "up"});
        }
        n.mode = mode;
        n.mac = "52:54:00:e2:0" + std::to_string(k) + ":02";
        n.guestIp = "10.78." + std::to_string(k) + ".2/24";
        n.peerIp = "10.78." + std::to_string(k) + ".1";
        ns_->ip({"addr", "add", n.peerIp + "/24", "dev", n.peerDev});
        return n;
    }

    std::string consolePath(const std::string &name) const
    {
        return root_->path() + "/" + name + ".console";
    }

    // A domain booting the test guest with the given NICs.  `extraCmdline`
    // goes to the guest's kernel command line (vd.pingloop=...).
    std::string writeDomain(const std::string &name, const std::vector<Nic> &nics,
                            const std::string &extraCmdline = "")
    {
        std::string cmdline = "console=ttyS0 panic=-1 quiet vd.nics=" +
                              std::to_string(nics.size()) + " vd.port=" +
                              std::to_string(kPort) + " vd.msg=hello-" + name + " vd.wait=60";
        for (size_t k = 0; k < nics.size(); ++k) {
            std::string i = std::to_string(k);
            cmdline += " vd.ip" + i + "=" + nics[k].guestIp + " vd.peer" + i + "=" +
                       nics[k].peerIp + " vd.mac" + i + "=" + nics[k].mac;
        }
        if (!extraCmdline.empty())
            cmdline += " " + extraCmdline;
        std::string xml = "<domain type='qemu'>\n"
                          "  <name>" + name + "</name>\n"
                          "  <memory unit='MiB'>256</memory>\n"
                          "  <vcpu>1</vcpu>\n"
                          "  <os>\n"
                          "    <type arch='x86_64' machine='pc'>hvm</type>\n"
                          "    <kernel>" + guestCache() + "/vmlinuz</kernel>\n"
                          "    <initrd>" + guestCache() + "/initramfs.cpio</initrd>\n"
                          "    <cmdline>" + cmdline + "</cmdline>\n"
                          "  </os>\n"
                          "  <on_reboot>destroy</on_reboot>\n"
                          "  <devices>\n"
                          "    <emulator>" + qemu_ + "</emulator>\n";
        for (const auto &n : nics) {
            xml += "    <interface type='direct'>\n"
                   "      <mac address='" + n.mac + "'/>\n"
                   "      <source dev='" + n.parent + "' mode='" + n.mode + "'/>\n"
                   "      <model type='virtio'/>\n";
            if (n.queues)
                xml += "      <driver name='qemu' queues='" + std::to_string(n.queues) + "'/>\n";
            xml += "    </interface>\n";
        }
        xml += "    <serial type='file'>\n"
               "      <source path='" + consolePath(name) + "'/>\n"
               "    </serial>\n"
               "  </devices>\n"
               "</domain>\n";
        std::string path = root_->path() + "/" + name + ".xml";
        std::ofstream(path) << xml;
        return path;
    }

    // A UDP listener on each NIC's peer address, bound before the guest
    // starts (it prints "listening" once bound).
    void startListeners(const std::vector<Nic> &nics)
    {
        for (size_t k = 0; k < nics.size(); ++k) {
            std::string log = root_->path() + "/udp" + std::to_string(k) + ".out";
            vd::Command c(IP_PATH, {"netns", "exec", ns_->name(), guestCache() + "/udptool",
                                           "recv", nics[k].peerIp, std::to_string(kPort), "600"});
            c.setLogFile(log);
            listeners_.push_back(std::make_unique<vd::Child>(c.spawn()));
            listeners_.back()->setTerminateGrace(std::chrono::milliseconds(100));
            waitFor([&] { return contains(log, "listening"); }, 10.0,
                    "UDP listener " + std::to_string(k));
        }
    }

    static std::string readOrEmpty(const std::string &path)
    {
        try {
            return vd::test::readText(path);
        } catch (const std::exception &) {
            return "";
        }
    }
    static bool contains(const std::string &path, const std::string &what)
    {
        return readOrEmpty(path).find(what) != std::string::npos;
    }

    // What to show when something fails: the guest's console and QEMU's log.
    std::string diagnostics(const std::string &name) const
    {
        return "\n--- guest console:\n" + readOrEmpty(consolePath(name)) + "--- QEMU log:\n" +
               readOrEmpty(runDir() + "/" + name + ".log");
    }

    void waitFor(const std::function<bool()> &cond, double seconds, const std::string &what,
                 const std::string &name = "")
    {
        auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
        while (!cond()) {
            if (Clock::now() > deadline)
                CPPUNIT_FAIL("timed out waiting for " + what +
                             (name.empty() ? "" : diagnostics(name)));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

    std::string runDir() const { return root_->path() + "/run/qemu"; }

    std::vector<std::string> macvtaps()
    {
        std::vector<std::string> out;
        for (const auto &l : ns_->links())
            if (l.rfind("macvtap", 0) == 0)
                out.push_back(l);
        return out;
    }

    // The domain's state column in `list --all`.
    std::string domainState(const std::string &name)
    {
        auto r = vd({"list", "--all"});
        std::string line;
        for (size_t pos = 0; pos < r.out.size();) {
            size_t eol = r.out.find('\n', pos);
            std::string l = r.out.substr(pos, eol == std::string::npos ? eol : eol - pos);
            if (l.find(" " + name + " ") != std::string::npos)
                line = l;
            if (eol == std::string::npos)
                break;
            pos = eol + 1;
        }
        if (line.find("shut off") != std::string::npos)
            return "shut off";
        if (line.find("running") != std::string::npos)
            return "running";
        return line.empty() ? "missing" : line;
    }

    static bool alive(pid_t pid)
    {
        std::string stat = readOrEmpty("/proc/" + std::to_string(pid) + "/stat");
        auto paren = stat.rfind(')');
        return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
    }

    // Define, start and remember the pids of QEMU and the supervisor.
    void start(const std::string &name, const std::string &xmlPath)
    {
        auto r = vd({"define", xmlPath});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        r = vd({"start", name});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err + diagnostics(name), 0, r.status);
        CPPUNIT_ASSERT_EQUAL("Domain '" + name + "' started\n\n", r.out);
        started_.push_back(name);
        auto st = vd::JsonValue::parse(vd::test::readText(runDir() + "/" + name + ".state.json"));
        qemuPid_ = static_cast<pid_t>(st.get("qemuPid").asInt());
        supervisorPid_ = static_cast<pid_t>(st.get("supervisorPid").asInt());
        CPPUNIT_ASSERT(alive(qemuPid_));
    }

    // After the guest is gone: shut off, nothing left anywhere.
    void assertTornDown(const std::string &name)
    {
        waitFor([&] { return !alive(qemuPid_) && !alive(supervisorPid_); }, 10.0,
                "QEMU and the supervisor to exit", name);
        CPPUNIT_ASSERT_EQUAL(std::string("shut off"), domainState(name));
        auto taps = macvtaps();
        CPPUNIT_ASSERT_MESSAGE(taps.empty() ? "" : taps.front(), taps.empty());
        for (const char *suffix : {".xml", ".state.json", ".ctl", ".qmp"})
            CPPUNIT_ASSERT_MESSAGE(name + suffix,
                                   !std::filesystem::exists(runDir() + "/" + name + suffix));
        std::string names = readOrEmpty(runDir() + "/netdev/names");
        CPPUNIT_ASSERT_MESSAGE(names, names.find("\"" + name + "\"") == std::string::npos);
    }

    // The guest reached every peer and each listener got its datagram.
    void assertTraffic(const std::string &name, const std::vector<Nic> &nics)
    {
        std::string console = readOrEmpty(consolePath(name));
        for (size_t k = 0; k < nics.size(); ++k) {
            std::string marker = "VD-NIC " + std::to_string(k) + " ";
            auto pos = console.find(marker);
            CPPUNIT_ASSERT_MESSAGE(marker + diagnostics(name), pos != std::string::npos);
            std::string line = console.substr(pos, console.find('\n', pos) - pos);
            CPPUNIT_ASSERT_MESSAGE(line, line.find("mac=" + nics[k].mac) != std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(line, line.find("ping=ok udp=sent") != std::string::npos);
            std::string log = root_->path() + "/udp" + std::to_string(k) + ".out";
            waitFor([&] { return contains(log, "received"); }, 5.0,
                    "datagram on NIC " + std::to_string(k), name);
            // The message names the guest's device the datagram left by.
            CPPUNIT_ASSERT_MESSAGE(readOrEmpty(log), contains(log, "received hello-" + name + " eth"));
        }
    }

    // Boot a guest that pings, sends and powers off by itself.
    void runToPoweroff(const std::string &name, const std::vector<Nic> &nics)
    {
        startListeners(nics);
        start(name, writeDomain(name, nics));
        CPPUNIT_ASSERT_EQUAL(nics.size(), macvtaps().size());
        waitFor([&] { return !alive(qemuPid_); }, kGuestTimeout, "the guest to power off", name);
        std::string console = readOrEmpty(consolePath(name));
        CPPUNIT_ASSERT_MESSAGE(diagnostics(name),
                               console.find("VD-GUEST-DONE ok") != std::string::npos);
        assertTraffic(name, nics);
        assertTornDown(name);
        started_.clear();
        // The domain log (QEMU's output and the supervisor's notes; the
        // serial console is not in it) tells that the guest shut down.
        std::string log = readOrEmpty(runDir() + "/" + name + ".log");
        CPPUNIT_ASSERT_MESSAGE(log, log.find("guest-shutdown") != std::string::npos);
    }

    void testBridgeGuestPowersOff() { runToPoweroff("e2e1", {nic(0, "bridge")}); }

    void testTwoNicsBridgeAndVepa()
    {
        runToPoweroff("e2e2", {nic(0, "bridge"), nic(1, "vepa")});
    }

    // Two multiqueue NICs, the second in private mode on its own veth pair.
    void testMultiqueueBridgeAndPrivate()
    {
        std::vector<Nic> nics{nic(0, "bridge"), nic(1, "private")};
        for (auto &n : nics)
            n.queues = 2;
        startListeners(nics);
        start("e2emq", writeDomain("e2emq", nics));
        // The live XML keeps the queues, and QEMU got two tap fds for each
        // NIC's backend, with multiqueue on.
        auto r = vd({"dumpxml", "e2emq"});
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("queues='2'") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("mode='private'") != std::string::npos);
        std::string cmdline = readOrEmpty("/proc/" + std::to_string(qemuPid_) + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        std::regex twoFds(R"("fds":"\d+:\d+")");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(cmdline, std::ptrdiff_t(2),
                                     std::distance(std::sregex_iterator(cmdline.begin(),
                                                                        cmdline.end(), twoFds),
                                                   std::sregex_iterator()));
        CPPUNIT_ASSERT_MESSAGE(cmdline, cmdline.find("mq=on") != std::string::npos);
        waitFor([&] { return !alive(qemuPid_); }, kGuestTimeout, "the guest to power off",
                "e2emq");
        CPPUNIT_ASSERT_MESSAGE(diagnostics("e2emq"),
                               contains(consolePath("e2emq"), "VD-GUEST-DONE ok"));
        assertTraffic("e2emq", nics);
        assertTornDown("e2emq");
        started_.clear();
    }

    void testDestroyRunningGuest()
    {
        std::vector<Nic> nics{nic(0, "bridge")};
        startListeners(nics);
        // The guest keeps pinging for 10 minutes after its first exchange.
        start("e2ed", writeDomain("e2ed", nics, "vd.pingloop=600"));
        waitFor([&] { return contains(consolePath("e2ed"), "VD-PING ok"); }, kGuestTimeout,
                "the guest's ping loop", "e2ed");
        assertTraffic("e2ed", nics);
        CPPUNIT_ASSERT_EQUAL(std::string("running"), domainState("e2ed"));
        auto r = vd({"destroy", "e2ed"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'e2ed' destroyed\n\n"), r.out);
        started_.clear();
        // destroy returns once teardown is complete: no waiting needed.
        CPPUNIT_ASSERT(!alive(qemuPid_));
        CPPUNIT_ASSERT(macvtaps().empty());
        assertTornDown("e2ed");
        CPPUNIT_ASSERT(!contains(consolePath("e2ed"), "VD-GUEST-DONE"));
    }

    // domif-setlink flips the carrier the guest sees: its pings stop while
    // the link is down and resume when it is up again.
    void testSetLinkSeenByGuest()
    {
        std::vector<Nic> nics{nic(0, "bridge")};
        startListeners(nics);
        start("e2el", writeDomain("e2el", nics, "vd.pingloop=600"));
        waitFor([&] { return contains(consolePath("e2el"), "VD-PING ok"); }, kGuestTimeout,
                "the guest's ping loop", "e2el");
        auto r = vd({"domiflist", "e2el"});
        auto pos = r.out.find(" macvtap");
        CPPUNIT_ASSERT_MESSAGE(r.out, pos != std::string::npos);
        std::string ifname = r.out.substr(pos + 1, r.out.find(' ', pos + 1) - pos - 1);

        r = vd({"domif-setlink", "e2el", ifname, "down"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        waitFor([&] { return contains(consolePath("e2el"), "VD-PING fail"); }, 60.0,
                "the guest to lose its peer", "e2el");
        r = vd({"domif-setlink", "e2el", ifname, "up"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        waitFor(
            [&] {
                std::string c = readOrEmpty(consolePath("e2el"));
                auto fail = c.find("VD-PING fail");
                return fail != std::string::npos && c.find("VD-PING ok", fail) != std::string::npos;
            },
            60.0, "the guest's pings to resume", "e2el");
        CPPUNIT_ASSERT_EQUAL(0, vd({"destroy", "e2el"}).status);
        started_.clear();
        assertTornDown("e2el");
    }

    // A transient domain (create) whose guest powers off is gone
    // completely: not even a definition is left.
    void testTransientGuestPowersOff()
    {
        std::vector<Nic> nics{nic(0, "bridge")};
        startListeners(nics);
        auto r = vd({"create", writeDomain("e2et", nics)});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err + diagnostics("e2et"), 0, r.status);
        started_.push_back("e2et");
        auto st = vd::JsonValue::parse(vd::test::readText(runDir() + "/e2et.state.json"));
        qemuPid_ = static_cast<pid_t>(st.get("qemuPid").asInt());
        supervisorPid_ = static_cast<pid_t>(st.get("supervisorPid").asInt());
        CPPUNIT_ASSERT_EQUAL(std::string("running"), domainState("e2et"));
        waitFor([&] { return !alive(qemuPid_); }, kGuestTimeout, "the guest to power off", "e2et");
        CPPUNIT_ASSERT_MESSAGE(diagnostics("e2et"),
                               contains(consolePath("e2et"), "VD-GUEST-DONE ok"));
        assertTraffic("e2et", nics);
        waitFor([&] { return !alive(supervisorPid_); }, 10.0, "the supervisor to exit", "e2et");
        started_.clear();
        CPPUNIT_ASSERT_EQUAL(std::string("missing"), domainState("e2et"));
        CPPUNIT_ASSERT(macvtaps().empty());
        for (const char *suffix : {".xml", ".state.json", ".ctl", ".qmp"})
            CPPUNIT_ASSERT_MESSAGE(std::string("e2et") + suffix,
                                   !std::filesystem::exists(runDir() + "/e2et" + suffix));
        std::string names = readOrEmpty(runDir() + "/netdev/names");
        CPPUNIT_ASSERT_MESSAGE(names, names.find("\"e2et\"") == std::string::npos);
    }

    // A guest whose kernel panics asks for a reboot (panic=-1); with
    // <on_reboot>destroy</on_reboot> QEMU exits instead (-no-reboot) and the
    // domain is torn down like after a poweroff.
    void testGuestPanicEndsDomain()
    {
        std::vector<Nic> nics{nic(0, "bridge")};
        start("e2ep", writeDomain("e2ep", nics, "rdinit=/nonexistent root=/dev/nonexistent"));
        waitFor([&] { return !alive(qemuPid_); }, kGuestTimeout, "QEMU to exit after the panic",
                "e2ep");
        CPPUNIT_ASSERT_MESSAGE(diagnostics("e2ep"),
                               contains(consolePath("e2ep"), "Kernel panic"));
        CPPUNIT_ASSERT_MESSAGE(diagnostics("e2ep"),
                               !contains(consolePath("e2ep"), "VD-GUEST-DONE"));
        assertTornDown("e2ep");
        started_.clear();
    }

private:
    std::unique_ptr<vd::test::TestNetns> ns_;
    std::string qemu_; // the host QEMU, as test::hostQemu() finds it
    std::unique_ptr<vd::test::TempDir> root_;
    std::vector<std::unique_ptr<vd::Child>> listeners_;
    std::vector<std::string> started_;
    pid_t qemuPid_ = -1;
    pid_t supervisorPid_ = -1;
};

CPPUNIT_TEST_SUITE_REGISTRATION(E2eVirtDirectTest);

} // namespace
