// The per-domain supervisor with real QEMU (-M none, no guest): start-up,
// readiness, the control socket, every way QEMU can end, and clean-up.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "qemu/qemu_monitor.h"
#include "qemu/qemu_supervisor.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virfile.h"

using namespace std::chrono;
using vd::JsonValue;
using vd::UniqueFd;
using vd::qemu::LaunchedDomain;
using vd::qemu::Monitor;
using vd::qemu::SupervisorConfig;

namespace {

bool exists(const std::string &p) { return access(p.c_str(), F_OK) == 0; }

bool processGone(pid_t pid)
{
    // A zombie counts as gone: its parent (not us) reaps it.
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    size_t paren = stat.rfind(')');
    return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
}

bool waitGone(pid_t pid, milliseconds limit = seconds(10))
{
    auto deadline = steady_clock::now() + limit;
    while (!processGone(pid)) {
        if (steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
}

std::string fdTarget(pid_t pid, int fd)
{
    std::error_code ec;
    return std::filesystem::read_symlink(
               "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec)
        .string();
}

pid_t parentOf(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    std::string rest = stat.substr(stat.rfind(')') + 4); // after ") S "
    return static_cast<pid_t>(std::stol(rest));
}

class Domain {
public:
    explicit Domain(std::vector<std::string> extraArgs = {})
    {
        qemu_ = vd::test::hostQemu();
        helper_ = vd::test::buildDir() + "/tests/vdsupervisorhelper";
        if (!exists(helper_))
            vd::test::skip("tests/vdsupervisorhelper was not built");
        char tmpl[] = "/tmp/vdsuptest.XXXXXX";
        dir_ = mkdtemp(tmpl);
        cfg.name = "sup-test";
        cfg.monitorSocket = dir_ + "/monitor.sock";
        cfg.controlSocket = dir_ + "/run/control.sock";
        cfg.stateFile = dir_ + "/run/sup-test.json";
        cfg.qemuLog = dir_ + "/qemu.log";
        cfg.monitorTimeout = seconds(20);
        cfg.shutdownTimeout = seconds(3);
        cfg.argv = {qemu_, "-M", "none", "-S", "-display", "none", "-nodefaults",
                    "-no-user-config", "-chardev",
                    "socket,id=charmonitor,path=" + cfg.monitorSocket + ",server=on,wait=off",
                    "-mon", "chardev=charmonitor,id=monitor,mode=control"};
        cfg.argv.insert(cfg.argv.end(), extraArgs.begin(), extraArgs.end());
        cfg.state = JsonValue::object({{"teardownMarker", marker()}});
    }
    ~Domain()
    {
        if (launched_ && launched_->supervisor.running())
            launched_->supervisor.terminate(seconds(5));
        std::filesystem::remove_all(dir_);
    }

    LaunchedDomain &launch(const std::vector<std::pair<int, int>> &fds = {},
                           milliseconds timeout = seconds(30))
    {
        vd::Command cmd(helper_);
        cmd.setLogFile(dir_ + "/supervisor.log");
        // Tests only: a killed runner takes supervisor (and so QEMU) along.
        cmd.setKillOnParentDeath(true);
        launched_.emplace(vd::qemu::launchSupervisor(cmd, cfg, fds, timeout));
        launched_->supervisor.setTerminateGrace(seconds(5));
        return *launched_;
    }
    vd::Child &supervisor() { return launched_->supervisor; }
    pid_t qemuPid() const { return launched_->qemuPid; }
    std::string marker() const { return dir_ + "/teardown-ran"; }
    std::string supervisorLog() const { return vd::test::readText(dir_ + "/supervisor.log"); }
    Monitor control() { return Monitor::connect(cfg.controlSocket, seconds(5)); }

    // The supervisor exited 0 after tearing down; returns the marker text.
    std::string expectCleanEnd()
    {
        auto st = supervisor().waitFor(seconds(15));
        CPPUNIT_ASSERT_MESSAGE(supervisorLog(), st.has_value());
        CPPUNIT_ASSERT_MESSAGE(st->describe() + "\n" + supervisorLog(), st->success());
        CPPUNIT_ASSERT(processGone(qemuPid()));
        CPPUNIT_ASSERT_MESSAGE(supervisorLog(), exists(marker()));
        CPPUNIT_ASSERT(!exists(cfg.stateFile));
        CPPUNIT_ASSERT(!exists(cfg.controlSocket));
        CPPUNIT_ASSERT(!exists(cfg.monitorSocket));
        return vd::readFile(marker());
    }

    SupervisorConfig cfg;

private:
    std::string qemu_, helper_, dir_;
    std::optional<LaunchedDomain> launched_;
};

} // namespace

class QemuSupervisorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuSupervisorTest);
    CPPUNIT_TEST(testConfigRoundTrip);
    CPPUNIT_TEST(testLifecycleAndControl);
    CPPUNIT_TEST(testQemuFailsToStart);
    CPPUNIT_TEST(testStartupCommandFails);
    CPPUNIT_TEST(testDestroyViaControl);
    CPPUNIT_TEST(testSigtermToSupervisor);
    CPPUNIT_TEST(testQemuKilledExternally);
    CPPUNIT_TEST(testSupervisorKilledTakesQemuAlong);
    CPPUNIT_TEST(testFdForwardedThroughControl);
    CPPUNIT_TEST(testBadConfig);
    CPPUNIT_TEST(testLaunchTimeoutCancelsStart);
    CPPUNIT_TEST(testBrokenMonitorTearsDown);
    CPPUNIT_TEST(testSetState);
    CPPUNIT_TEST_SUITE_END();

public:
    void testConfigRoundTrip()
    {
        SupervisorConfig c;
        c.name = "vm";
        c.argv = {"qemu", "-S"};
        c.passFds = {3, 4};
        c.monitorSocket = "/run/m";
        c.controlSocket = "/run/c";
        c.stateFile = "/run/s";
        c.qemuLog = "/log";
        c.startupCommands = {JsonValue::object({{"execute", "cont"}})};
        c.monitorTimeout = milliseconds(1234);
        c.state = JsonValue::object({{"macvtaps", JsonValue::array({"macvtap0"})}});
        SupervisorConfig back = SupervisorConfig::fromJson(JsonValue::parse(c.toJson().toString()));
        CPPUNIT_ASSERT(back.toJson() == c.toJson());
        JsonValue bad = c.toJson();
        bad.set("passFds", JsonValue::array({1}));
        CPPUNIT_ASSERT_THROW(SupervisorConfig::fromJson(bad), vd::Error);
        bad = c.toJson();
        bad.remove("argv");
        CPPUNIT_ASSERT_THROW(SupervisorConfig::fromJson(bad), vd::Error);
    }

    void testLifecycleAndControl()
    {
        Domain d;
        d.cfg.startupCommands = {JsonValue::object({{"execute", "cont"}})};
        int p[2];
        CPPUNIT_ASSERT(pipe2(p, O_CLOEXEC) == 0);
        UniqueFd r(p[0]), w(p[1]);
        std::string pipeName = fdTarget(getpid(), r.get());
        auto &launched = d.launch({{5, r.get()}});
        pid_t sup = launched.supervisor.pid();
        CPPUNIT_ASSERT(launched.qemuPid > 0);
        // QEMU is the supervisor's child and holds the passed fd at its number;
        // the supervisor let go of its copy.
        CPPUNIT_ASSERT_EQUAL(sup, parentOf(launched.qemuPid));
        CPPUNIT_ASSERT_EQUAL(pipeName, fdTarget(launched.qemuPid, 5));
        for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(sup) +
                                                                 "/fd")) {
            std::error_code ec;
            CPPUNIT_ASSERT(std::filesystem::read_symlink(e.path(), ec).string() != pipeName);
        }

        // The supervisor holds only what it needs: stdio (/dev/null, log),
        // epoll, eventfd, signalfd, pidfd, QMP socket, control listener.
        // Not the CLI's config/ready sockets, nothing else.
        std::string fds;
        size_t nfds = 0;
        for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(sup) +
                                                                 "/fd")) {
            std::error_code ec;
            fds += e.path().filename().string() + " -> " +
                   std::filesystem::read_symlink(e.path(), ec).string() + "\n";
            ++nfds;
        }
        CPPUNIT_ASSERT_MESSAGE(fds, nfds == 9);
        CPPUNIT_ASSERT_MESSAGE(fds, fdTarget(sup, 0) == "/dev/null" && fdTarget(sup, 1) == "/dev/null");

        JsonValue state = JsonValue::parse(vd::readFile(d.cfg.stateFile));
        CPPUNIT_ASSERT_EQUAL(int64_t(launched.qemuPid), state.get("qemuPid").asInt());
        struct stat sb;
        CPPUNIT_ASSERT(stat(d.cfg.controlSocket.c_str(), &sb) == 0);
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(sb.st_mode & 0777));
        CPPUNIT_ASSERT(stat(d.cfg.monitorSocket.c_str(), &sb) == 0);
        CPPUNIT_ASSERT_EQUAL(0u, static_cast<unsigned>(sb.st_mode & 077));
        CPPUNIT_ASSERT_EQUAL(int64_t(sup), state.get("supervisorPid").asInt());
        CPPUNIT_ASSERT_EQUAL(d.marker(), state.get("state").get("teardownMarker").asString());

        {
            Monitor ctl = d.control();
            // The start-up "cont" ran.
            CPPUNIT_ASSERT_EQUAL(std::string("running"), ctl.queryStatus());
            CPPUNIT_ASSERT(ctl.qemuVersion().size() >= 5);
            CPPUNIT_ASSERT_EQUAL(std::string("sup-test"),
                                 ctl.execute("vd-query-state").get("name").asString());
            try {
                ctl.execute("no-such-command");
                CPPUNIT_FAIL("expected an error");
            } catch (const vd::qemu::MonitorError &e) {
                CPPUNIT_ASSERT_EQUAL(std::string("CommandNotFound"), e.qmpClass());
            }
            // A second client at the same time.
            Monitor ctl2 = d.control();
            ctl2.stop();
            CPPUNIT_ASSERT_EQUAL(std::string("paused"), ctl.queryStatus());
            ctl.quit();
        }
        std::string marker = d.expectCleanEnd();
        CPPUNIT_ASSERT_EQUAL(std::string("exit status 0\nstate-file:yes\n"), marker);
        CPPUNIT_ASSERT(d.supervisorLog().find("\"event\":\"STOP\"") != std::string::npos);
    }

    void testQemuFailsToStart()
    {
        Domain d({"-no-such-option"});
        try {
            d.launch();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
            std::string msg = e.what();
            CPPUNIT_ASSERT_MESSAGE(msg, msg.rfind("internal error: process exited while "
                                                  "connecting to monitor: ",
                                                  0) == 0);
            CPPUNIT_ASSERT_MESSAGE(msg, msg.find("no-such-option") != std::string::npos);
        }
        // Teardown ran; nothing is left behind.
        CPPUNIT_ASSERT(exists(d.marker()));
        CPPUNIT_ASSERT(vd::readFile(d.marker()).rfind("exit status 1\n", 0) == 0);
        CPPUNIT_ASSERT(!exists(d.cfg.stateFile));
        CPPUNIT_ASSERT(!exists(d.cfg.controlSocket));
    }

    void testStartupCommandFails()
    {
        Domain d;
        d.cfg.startupCommands = {JsonValue::object(
            {{"execute", "set_link"}, {"arguments", JsonValue::object({{"name", "net9"},
                                                                     {"up", false}})}})};
        try {
            d.launch();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(std::string("internal error: unable to execute QEMU command "
                                             "'set_link': Device 'net9' not found"),
                                 std::string(e.what()));
        }
        CPPUNIT_ASSERT(exists(d.marker()));
        CPPUNIT_ASSERT(!exists(d.cfg.stateFile));
    }

    void testDestroyViaControl()
    {
        Domain d;
        d.launch();
        Monitor ctl = d.control();
        ctl.execute("vd-destroy");
        // EOF on the control connection means: torn down, state removed.
        CPPUNIT_ASSERT(ctl.waitForClose(seconds(15)));
        CPPUNIT_ASSERT(exists(d.marker()));
        CPPUNIT_ASSERT(!exists(d.cfg.stateFile));
        // QEMU exits on SIGTERM by itself ("terminating on signal 15").
        std::string marker = d.expectCleanEnd();
        CPPUNIT_ASSERT_MESSAGE(marker, marker.rfind("exit status 0", 0) == 0 ||
                                           marker.rfind("fatal signal 15", 0) == 0);
    }

    void testSigtermToSupervisor()
    {
        Domain d;
        d.launch();
        d.supervisor().kill(SIGTERM);
        d.expectCleanEnd();
    }

    void testQemuKilledExternally()
    {
        Domain d;
        d.launch();
        kill(d.qemuPid(), SIGKILL);
        std::string marker = d.expectCleanEnd();
        CPPUNIT_ASSERT_EQUAL(std::string("fatal signal 9\nstate-file:yes\n"), marker);
    }

    void testSupervisorKilledTakesQemuAlong()
    {
        Domain d;
        d.launch();
        d.supervisor().kill(SIGKILL);
        d.supervisor().wait();
        // PR_SET_PDEATHSIG: QEMU does not run on unsupervised.
        CPPUNIT_ASSERT(waitGone(d.qemuPid()));
    }

    void testFdForwardedThroughControl()
    {
        Domain d;
        d.launch();
        int p[2];
        CPPUNIT_ASSERT(pipe2(p, O_CLOEXEC) == 0);
        UniqueFd r(p[0]), w(p[1]);
        std::string pipeName = fdTarget(getpid(), r.get());
        Monitor ctl = d.control();
        ctl.sendFd("tap-hot0", r.get());
        bool found = false;
        for (const auto &e : std::filesystem::directory_iterator(
                 "/proc/" + std::to_string(d.qemuPid()) + "/fd")) {
            std::error_code ec;
            found = found || std::filesystem::read_symlink(e.path(), ec).string() == pipeName;
        }
        CPPUNIT_ASSERT(found);
        ctl.closeFd("tap-hot0");
        ctl.quit();
        d.expectCleanEnd();
    }

    void testLaunchTimeoutCancelsStart()
    {
        // QEMU without a monitor: the supervisor would wait 20 s for it.
        Domain d;
        d.cfg.argv.resize(d.cfg.argv.size() - 4);
        try {
            d.launch({}, milliseconds(500));
            CPPUNIT_FAIL("expected a timeout");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_OPERATION_TIMEOUT, e.code());
        }
        // The CLI's give-up cancelled the start (the log says so; the
        // monitor timeout would say otherwise): QEMU stopped, teardown ran,
        // nothing left.
        CPPUNIT_ASSERT_MESSAGE(d.supervisorLog(), exists(d.marker()));
        CPPUNIT_ASSERT(d.supervisorLog().find("was cancelled") != std::string::npos);
        CPPUNIT_ASSERT(!exists(d.cfg.stateFile));
        CPPUNIT_ASSERT(!exists(d.cfg.controlSocket));
    }

    // A "QEMU" whose monitor (served here) turns to garbage after the
    // handshake: the supervisor cannot go on, but it must stop QEMU and tear
    // down, not die and leave everything behind.
    void testBrokenMonitorTearsDown()
    {
        Domain d;
        d.cfg.argv = {"/bin/sh", "-c", "while :; do sleep 0.1; done"};
        UniqueFd listener = vd::qemu::createMonitorListener(d.cfg.monitorSocket);
        std::thread server([&listener] {
            pollfd p{listener.get(), POLLIN, 0};
            if (poll(&p, 1, 20000) != 1)
                return;
            UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            auto say = [&conn](const std::string &line) {
                return send(conn.get(), line.data(), line.size(), MSG_NOSIGNAL) > 0;
            };
            say("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, "
                "\"micro\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n");
            std::string in;
            char buf[4096];
            while (in.find('\n') == std::string::npos) {
                ssize_t n = read(conn.get(), buf, sizeof(buf));
                if (n <= 0)
                    return;
                in.append(buf, static_cast<size_t>(n));
            }
            JsonValue cmd = JsonValue::parse(in.substr(0, in.find('\n')));
            say(JsonValue::object({{"return", JsonValue::object()}, {"id", cmd.get("id")}})
                    .toString() +
                "\r\n");
            // Wait until the supervisor is ready, then break the protocol.
            std::this_thread::sleep_for(milliseconds(300));
            say("this is not QMP\r\n");
            // Until the supervisor lets go.
            while (read(conn.get(), buf, sizeof(buf)) > 0) {
            }
        });
        try {
            d.launch();
        } catch (...) {
            server.join();
            throw;
        }
        auto st = d.supervisor().waitFor(seconds(15));
        server.join();
        CPPUNIT_ASSERT_MESSAGE(d.supervisorLog(), st.has_value());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(d.supervisorLog(), std::string("exit status 1"),
                                     st->describe());
        CPPUNIT_ASSERT(processGone(d.qemuPid()));
        CPPUNIT_ASSERT_MESSAGE(d.supervisorLog(), exists(d.marker()));
        CPPUNIT_ASSERT(!exists(d.cfg.stateFile));
        CPPUNIT_ASSERT(!exists(d.cfg.controlSocket));
        CPPUNIT_ASSERT(d.supervisorLog().find("supervision failed") != std::string::npos);
    }

    void testSetState()
    {
        Domain d;
        d.launch();
        Monitor ctl = d.control();
        std::string other = d.marker() + ".new";
        ctl.execute("vd-set-state",
                    JsonValue::object({{"state", JsonValue::object({{"teardownMarker", other},
                                                                    {"nics", 2}})}}));
        JsonValue state = JsonValue::parse(vd::readFile(d.cfg.stateFile));
        CPPUNIT_ASSERT_EQUAL(int64_t(2), state.get("state").get("nics").asInt());
        CPPUNIT_ASSERT_THROW(ctl.execute("vd-set-state", JsonValue::object({{"state", 1}})),
                             vd::qemu::MonitorError);
        ctl.quit();
        CPPUNIT_ASSERT(ctl.waitForClose(seconds(15)));
        // The teardown saw the new state.
        CPPUNIT_ASSERT(exists(other));
        CPPUNIT_ASSERT(!exists(d.marker()));
        std::filesystem::remove(other);
    }

    void testBadConfig()
    {
        Domain d;
        d.cfg.argv.clear();
        try {
            d.launch();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
            CPPUNIT_ASSERT(std::string(e.what()).find("empty QEMU command line") !=
                           std::string::npos);
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuSupervisorTest);
