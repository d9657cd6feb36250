// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Crash-safe start, with the real CLI, kernel and QEMU in a private network
// namespace:
//  - startfaults: a failure (VIRT_DIRECT_FAULT=STEP:fail) and a crash
//    (STEP:kill, of the CLI or of the supervisor, whichever passes STEP) at
//    every step listed in tests/startfaultdata/steps;
//  - startcrash: kill -9 of the CLI at many moments of a 50-NIC start, and
//    a full disk (a small tmpfs in a private mount namespace) at every
//    amount of free space a start can run out of.
// After each, the next command must leave no macvtap, reserved name, lock,
// temporary or runtime file and no process of the domain behind, and the
// domain must be either running with all its macvtaps up or shut off.
#include <config.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "qemu/qemu_capabilities.h"
#include "testcommand.h"
#include "testnetns.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virprocess.h"

namespace {

using vd::test::RunResult;
namespace fs = std::filesystem;

void skipUnlessRootAndQemu()
{
    if (!vd::test::isRoot())
        vd::test::skip("needs root for network namespaces");
    try {
        vd::qemu::findEmulator("", "x86_64");
    } catch (const vd::Error &) {
        vd::test::skip("no QEMU for x86_64");
    }
}

// A network namespace with a veth parent, a --root directory, and what
// the checks need.
class StartWorld {
public:
    explicit StartWorld(bool inNetnsAlready = false) : direct_(inNetnsAlready)
    {
        if (!direct_)
            ns_ = std::make_unique<vd::test::TestNetns>();
    }

    const std::string &root() const { return root_.path(); }
    std::string runDir() const { return root() + "/run/qemu"; }

    std::vector<std::string> argv(const std::vector<std::string> &args) const
    {
        std::vector<std::string> a;
        if (!direct_)
            a = {"/usr/sbin/ip", "netns", "exec", ns_->name()};
        a.push_back(vd::test::buildDir() + "/tools/virt-direct");
        a.push_back("--root");
        a.push_back(root());
        a.insert(a.end(), args.begin(), args.end());
        return a;
    }
    RunResult vd(const std::vector<std::string> &args, const std::vector<std::string> &env = {}) const
    {
        return vd::test::runProgram(argv(args), env);
    }

    // A domain with `nics` direct NICs (bridge mode, virtio) on the veth
    // parent; the emulator is found the way start finds it.
    void define(const std::string &name, unsigned nics)
    {
        std::string xml = "<domain type='qemu'>\n  <name>" + name +
                          "</name>\n  <memory unit='MiB'>64</memory>\n  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices>\n";
        for (unsigned i = 0; i < nics; ++i)
            xml += "    <interface type='direct'><source dev='" + vd::test::TestNetns::parent() +
                   "' mode='bridge'/><model type='virtio'/></interface>\n";
        xml += "  </devices>\n</domain>\n";
        std::string path = root() + "/" + name + ".xml";
        std::ofstream(path) << xml;
        auto r = vd({"define", path});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
    }

    // "NAME UP" per macvtap in the namespace.
    std::map<std::string, bool> macvtaps() const
    {
        std::vector<std::string> cmd = {"/usr/sbin/ip", "-o", "link", "show"};
        if (!direct_)
            cmd.insert(cmd.begin() + 1, {"-n", ns_->name()});
        std::map<std::string, bool> out;
        std::istringstream in(vd::test::runProgram(cmd).out);
        std::string line;
        while (std::getline(in, line)) {
            auto pos = line.find(": macvtap");
            if (pos == std::string::npos)
                continue;
            std::string name = line.substr(pos + 2, line.find_first_of("@:", pos + 2) - pos - 2);
            out[name] = line.find("<UP") != std::string::npos || line.find(",UP") != std::string::npos;
        }
        return out;
    }

    // Files under run/ that must not outlive a start of `name`: all but the
    // permanent ones (name pool, its lock, domain ids) and the domain log.
    std::vector<std::string> leftovers(const std::string &name) const
    {
        std::set<std::string> allowed = {"qemu/domain-ids", "qemu/netdev/names",
                                         "qemu/netdev/names.lock", "qemu/" + name + ".log",
                                         "filler" /* testDiskFull's */};
        std::vector<std::string> out;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(root() + "/run", ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec))
                continue;
            std::string rel = fs::relative(it->path(), root() + "/run").string();
            if (!allowed.count(rel))
                out.push_back(rel);
        }
        return out;
    }

    // Lines of the name pool's state that belong to `name`.
    std::vector<std::string> reservations(const std::string &name) const
    {
        std::vector<std::string> out;
        std::ifstream in(runDir() + "/netdev/names");
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string kw, value, owner;
            ls >> kw >> value;
            std::getline(ls, owner);
            if ((kw == "name" || kw == "group") && owner == " " + name)
                out.push_back(line);
        }
        return out;
    }

    // Processes started for this root (supervisors carry it in their
    // environment, QEMUs in their arguments).
    std::vector<pid_t> processes() const
    {
        std::vector<pid_t> out;
        std::error_code ec;
        for (const auto &e : fs::directory_iterator("/proc", ec)) {
            std::string d = e.path().filename().string();
            if (d.find_first_not_of("0123456789") != std::string::npos)
                continue;
            pid_t pid = static_cast<pid_t>(std::stoi(d));
            if (pid == ::getpid())
                continue;
            std::string text;
            for (const char *f : {"/cmdline", "/environ"}) {
                // The process may exit while we read: no exceptions here.
                vd::UniqueFd fd(::open((e.path().string() + f).c_str(), O_RDONLY | O_CLOEXEC));
                char buf[4096];
                ssize_t n;
                while (fd && (n = ::read(fd.get(), buf, sizeof(buf))) > 0)
                    text.append(buf, static_cast<size_t>(n));
            }
            if (text.find(root() + "/") != std::string::npos ||
                text.find("VIRT_DIRECT_ROOT=" + root()) != std::string::npos)
                out.push_back(pid);
        }
        return out;
    }

    // Private tap node directories in /dev (devtmpfs is shared by all
    // namespaces) whose creator is dead.
    static std::vector<std::string> staleNodeDirs()
    {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto &e : fs::directory_iterator("/dev", ec)) {
            std::string f = e.path().filename().string();
            unsigned long long pid = 0, start = 0;
            if (std::sscanf(f.c_str(), ".virt-direct-tap-%llu-%llu-", &pid, &start) == 2 &&
                !vd::ProcessId{static_cast<pid_t>(pid), start}.alive())
                out.push_back(f);
        }
        return out;
    }

    static std::string joined(const std::vector<std::string> &v)
    {
        std::string s;
        for (const auto &x : v)
            s += x + " ";
        return s;
    }

    // Nothing of `name` is left.  Processes get a moment: a supervisor
    // that was never configured exits by itself.
    void assertClean(const std::string &name, const std::string &what) const
    {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": macvtaps", size_t(0), macvtaps().size());
        CPPUNIT_ASSERT_MESSAGE(what + ": files left: " + joined(leftovers(name)),
                               leftovers(name).empty());
        CPPUNIT_ASSERT_MESSAGE(what + ": names left: " + joined(reservations(name)),
                               reservations(name).empty());
        CPPUNIT_ASSERT_MESSAGE(what + ": tap node directories left: " + joined(staleNodeDirs()),
                               staleNodeDirs().empty());
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!processes().empty() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": processes left", size_t(0), processes().size());
    }

    // What the next command sees: running with all `nics` macvtaps up (then
    // destroyed, and that must leave nothing), or shut off and clean.
    // Returns whether it was running.
    bool assertRunningOrClean(const std::string &name, unsigned nics, const std::string &what) const
    {
        auto r = vd({"list", "--all"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": " + r.err, 0, r.status);
        bool running = r.out.find(" " + name + " ") != std::string::npos &&
                       r.out.find("running") != std::string::npos;
        if (running) {
            auto taps = macvtaps();
            size_t up = 0;
            for (const auto &[tap, isUp] : taps)
                up += isUp;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": macvtaps up", size_t(nics), up);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": macvtaps", size_t(nics), taps.size());
            auto files = leftovers(name);
            for (const auto &f : files)
                CPPUNIT_ASSERT_MESSAGE(what + ": " + f, f.find(".intent.json") == std::string::npos &&
                                                            f.find(".lock") == std::string::npos);
            r = vd({"destroy", name});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": destroy: " + r.err, 0, r.status);
        } else {
            CPPUNIT_ASSERT_MESSAGE(what + ": " + r.out, r.out.find("shut off") != std::string::npos);
        }
        assertClean(name, what);
        return running;
    }

private:
    bool direct_;
    std::unique_ptr<vd::test::TestNetns> ns_;
    vd::test::TempDir root_;
};

// "STEP" or "STEP@N" -> (STEP, N)
std::pair<std::string, unsigned> splitSpec(const std::string &spec)
{
    auto at = spec.find('@');
    if (at == std::string::npos)
        return {spec, 1};
    return {spec.substr(0, at), static_cast<unsigned>(std::stoul(spec.substr(at + 1)))};
}

// How often each step was passed, per step name, from a trace file.
std::map<std::string, unsigned> traceCounts(const std::string &path)
{
    std::map<std::string, unsigned> counts;
    std::ifstream in(path);
    std::string pid, step;
    while (in >> pid >> step)
        ++counts[step];
    return counts;
}

std::vector<std::string> stepsFromData()
{
    std::vector<std::string> steps;
    std::ifstream in(vd::test::srcDir() + "/startfaultdata/steps");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string spec;
        if (ls >> spec && spec[0] != '#')
            steps.push_back(spec);
    }
    return steps;
}

const unsigned kMatrixNics = 3;

void runFault(const std::string &spec, const std::string &action)
{
    skipUnlessRootAndQemu();
    StartWorld w;
    w.define("f", kMatrixNics);
    std::string trace = w.root() + "/trace";
    auto r = w.vd({"start", "f"}, {"VIRT_DIRECT_FAULT=" + spec + ":" + action,
                                   "VIRT_DIRECT_FAULT_TRACE=" + trace});
    auto [step, hit] = splitSpec(spec);
    bool reached = traceCounts(trace)[step] >= hit;
    std::string what = spec + ":" + action + " (" + r.err + ")";
    if (!reached) {
        // Not a step of this start on this host (e.g. no vhost-net).
        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, 0, r.status);
        w.assertRunningOrClean("f", kMatrixNics, what);
        return;
    }
    if (action == "fail") {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(what, 1, r.status);
        CPPUNIT_ASSERT_MESSAGE(what, r.err.find("injected fault at " + step) != std::string::npos);
        w.assertClean("f", what);
    }
    // A crash of the CLI ends the command at once; one of the supervisor
    // fails the start.  Either way the next command sorts it out.
    bool running = w.assertRunningOrClean("f", kMatrixNics, what);
    if (action == "fail")
        return;
    if (step == "started" || step == "intent-remove")
        CPPUNIT_ASSERT_MESSAGE(what + ": a start that got this far runs", running);
    // And the domain starts again normally.
    r = w.vd({"start", "f"});
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
    CPPUNIT_ASSERT(w.assertRunningOrClean("f", kMatrixNics, what + ", then a clean start"));
}

// A start passes no step that the matrix does not list.
void checkStepsListed()
{
    skipUnlessRootAndQemu();
    StartWorld w;
    w.define("t", kMatrixNics);
    std::string trace = w.root() + "/trace";
    auto r = w.vd({"start", "t"}, {"VIRT_DIRECT_FAULT_TRACE=" + trace});
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
    std::set<std::string> listed;
    for (const auto &spec : stepsFromData())
        listed.insert(splitSpec(spec).first);
    for (const auto &[step, count] : traceCounts(trace))
        CPPUNIT_ASSERT_MESSAGE(step + " is not in tests/startfaultdata/steps", listed.count(step));
    w.assertRunningOrClean("t", kMatrixNics, "traced start");
}

vd::test::DataSuite faultSuite("startfaults", [](const vd::test::AddTest &add) {
    add("all-steps-listed", checkStepsListed);
    for (const auto &spec : stepsFromData())
        for (const char *action : {"fail", "kill"})
            add(std::string(action) + "-" + spec, [spec, action] { runFault(spec, action); });
});

class StartCrashTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StartCrashTest);
    CPPUNIT_TEST(testKillCliAnywhere50Nics);
    CPPUNIT_TEST(testDiskFull);
    CPPUNIT_TEST(testStaleLockAndTemporaries);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override { skipUnlessRootAndQemu(); }

    // kill -9 of `start` of a 50-NIC domain at moments spread over the
    // whole start (fixed pseudo-random sequence).
    void testKillCliAnywhere50Nics()
    {
        const unsigned nics = 50;
        StartWorld w;
        w.define("big", nics);
        // How long a whole start takes here, to spread the kills over it.
        auto t0 = std::chrono::steady_clock::now();
        auto r = w.vd({"start", "big"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        auto full = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count();
        w.assertRunningOrClean("big", nics, "a normal start");

        unsigned seed = 12345, running = 0, killed = 0;
        const int rounds = 24;
        for (int i = 0; i < rounds; ++i) {
            seed = seed * 1103515245 + 12345;
            auto delay = std::chrono::microseconds((seed >> 8) % static_cast<unsigned>(full * 11 / 10 + 1));
            auto argv = w.argv({"start", "big"});
            vd::Command cmd(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()));
            vd::Child cli = cmd.spawn();
            std::this_thread::sleep_for(delay);
            cli.kill(SIGKILL);
            auto st = cli.wait();
            killed += st.signaled();
            std::string what = "kill -9 after " + std::to_string(delay.count()) + " us (" +
                               st.describe() + ")";
            running += w.assertRunningOrClean("big", nics, what);
        }
        // The kills hit starts in progress, not only finished ones.
        CPPUNIT_ASSERT_MESSAGE(std::to_string(killed), killed >= rounds / 2);
        (void)running;
    }

    // Start with the run directory on a tmpfs of 64 KiB, leaving 0..N
    // pages free: whatever write fails, the failed start releases its
    // names at once (on the still full disk) and leaves nothing behind.
    void testDiskFull()
    {
        vd::test::TestNetns ns;
        ns.run([] {
            StartWorld w(true);
            w.define("full", 20);
            std::string run = w.root() + "/run";
            fs::create_directories(run);
            if (::mount("tmpfs", run.c_str(), "tmpfs", 0, "size=256k,mode=0700") < 0)
                vd::test::skip("cannot mount a tmpfs");
            struct Unmount {
                std::string dir;
                ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
            } unmount{run};
            unsigned failures = 0;
            for (unsigned freePages = 0; freePages <= 16; ++freePages) {
                fs::remove(w.runDir() + "/full.log"); // grows with every start
                std::string filler = run + "/filler";
                {
                    std::ofstream out(filler);
                    std::string page(4096, 'x');
                    while (out.write(page.data(), page.size()) && out.flush()) {
                    }
                }
                auto size = fs::file_size(filler);
                CPPUNIT_ASSERT(size > 4096ull * freePages);
                fs::resize_file(filler, size - 4096ull * freePages);
                auto r = w.vd({"start", "full"});
                std::string what = std::to_string(freePages) + " pages free: " + r.err;
                if (r.status != 0) {
                    ++failures;
                    CPPUNIT_ASSERT_MESSAGE(what, r.err.find("No space left on device") != std::string::npos);
                    // Before any space is freed: nothing reserved, nothing left.
                    w.assertClean("full", what);
                }
                fs::remove(filler);
                w.assertRunningOrClean("full", 20, what);
            }
            CPPUNIT_ASSERT_MESSAGE("no start ran out of space", failures > 0);
        }, 600);
    }

    // Left by a process killed at the wrong moment: a lock file and
    // temporaries of atomic writes.  list removes them.
    void testStaleLockAndTemporaries()
    {
        StartWorld w;
        w.define("s", 1);
        fs::create_directories(w.runDir());
        std::ofstream(w.runDir() + "/s.lock");
        std::ofstream(w.runDir() + "/s.intent.json") << "garbage";
        std::ofstream(w.runDir() + "/s.xml.Ab3dEf") << "<domain";
        std::ofstream(w.runDir() + "/s.intent.json.XyZ123") << "{";
        CPPUNIT_ASSERT(!w.assertRunningOrClean("s", 1, "stale files"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StartCrashTest);

} // namespace
