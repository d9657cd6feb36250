// The QMP client against the real qemu-system-x86_64 (skipped when QEMU is
// not installed), plus a scripted fake server for what QEMU will not do on
// demand (late replies, silence).
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "qemu/qemu_monitor.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"

using namespace std::chrono;
using vd::JsonValue;
using vd::UniqueFd;
using vd::qemu::Monitor;
using vd::qemu::MonitorError;

namespace {

std::string qemuBinary() { return vd::test::hostQemu(); }

// A QEMU process with no guest running (-S, no devices unless asked),
// monitored through a listening socket it inherits as fd 3.
class Qemu {
public:
    explicit Qemu(const std::vector<std::string> &extra = {"-M", "none"})
    {
        std::string bin = qemuBinary();
        char tmpl[] = "/tmp/vdmontest.XXXXXX";
        dir_ = mkdtemp(tmpl);
        socketPath_ = dir_ + "/monitor.sock";
        UniqueFd listener = vd::qemu::createMonitorListener(socketPath_);
        vd::Command cmd(bin, {"-S", "-accel", "tcg", "-display", "none", "-nodefaults",
                              "-no-user-config", "-chardev",
                              "socket,id=mon,fd=3,server=on,wait=off", "-mon",
                              "chardev=mon,mode=control"});
        cmd.args(extra).passFd(3, listener.get()).setLogFile(dir_ + "/qemu.log");
        cmd.setKillOnParentDeath(true); // never outlive a killed test runner
        child_ = cmd.spawn();
        child_.setTerminateGrace(seconds(2));
    }
    ~Qemu()
    {
        if (child_.running())
            child_.terminate(seconds(2));
        std::filesystem::remove_all(dir_);
    }
    Monitor connect()
    {
        return Monitor::connect(socketPath_, seconds(20), [this] { return !child_.tryWait(); });
    }
    vd::Child &child() { return child_; }
    std::string log() const { return vd::test::readText(dir_ + "/qemu.log"); }

private:
    std::string dir_, socketPath_;
    vd::Child child_;
};

std::string errorText(const std::function<void()> &f, virErrorNumber expectCode)
{
    try {
        f();
    } catch (const vd::Error &e) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(e.what(), expectCode, e.code());
        return e.what();
    }
    CPPUNIT_FAIL("expected an error");
    return "";
}

std::set<std::string> fdTargets(pid_t pid)
{
    std::set<std::string> out;
    for (const auto &e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        std::error_code ec;
        out.insert(std::filesystem::read_symlink(e.path(), ec).string());
    }
    return out;
}

// Speaks just enough QMP over one end of a socketpair, from a script.
class FakeQmp {
public:
    FakeQmp()
    {
        int sv[2];
        CPPUNIT_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        ours_.reset(sv[0]);
        theirs_.reset(sv[1]);
    }
    UniqueFd clientEnd() { return std::move(ours_); }
    void send(const std::string &line)
    {
        // Runs on the server thread: no CppUnit assertions here.
        std::string l = line + "\r\n";
        ssize_t n = write(theirs_.get(), l.data(), l.size());
        (void)n;
    }
    // Next command the client sent.
    JsonValue receive()
    {
        std::string line;
        char c;
        while (read(theirs_.get(), &c, 1) == 1 && c != '\n')
            line.push_back(c);
        return JsonValue::parse(line);
    }
    void close() { theirs_.reset(); }

private:
    UniqueFd ours_, theirs_;
};

const char *greeting = R"({"QMP": {"version": {"qemu": {"micro": 1, "minor": 2, "major": 7}, )"
                       R"("package": ""}, "capabilities": ["oob"]}})";

} // namespace

class QemuMonitorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuMonitorTest);
    CPPUNIT_TEST(testGreetingAndStatus);
    CPPUNIT_TEST(testErrorReply);
    CPPUNIT_TEST(testSendFd);
    CPPUNIT_TEST(testNicsLinkAndHotplug);
    CPPUNIT_TEST(testEventsAndQuit);
    CPPUNIT_TEST(testQemuDies);
    CPPUNIT_TEST(testConnectRetry);
    CPPUNIT_TEST(testConnectGivesUpWhenDead);
    CPPUNIT_TEST(testFakeLateReplyAndEvents);
    CPPUNIT_TEST(testFakeTimeout);
    CPPUNIT_TEST(testFakeBadGreeting);
    CPPUNIT_TEST_SUITE_END();

public:
    void testGreetingAndStatus()
    {
        Qemu q;
        Monitor mon = q.connect();
        CPPUNIT_ASSERT(mon.qemuVersion().rfind("7.", 0) == 0 || mon.qemuVersion()[0] > '7');
        CPPUNIT_ASSERT_EQUAL(std::string("prelaunch"), mon.queryStatus());
        CPPUNIT_ASSERT(mon.execute("query-version").get("qemu").get("major").asInt() >= 7);
    }

    void testErrorReply()
    {
        Qemu q;
        Monitor mon = q.connect();
        try {
            mon.execute("no-such-command");
            CPPUNIT_FAIL("expected an error");
        } catch (const MonitorError &e) {
            CPPUNIT_ASSERT_EQUAL(std::string("CommandNotFound"), e.qmpClass());
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
            CPPUNIT_ASSERT_EQUAL(std::string("internal error: unable to execute QEMU command "
                                             "'no-such-command': The command no-such-command "
                                             "has not been found"),
                                 std::string(e.what()));
        }
        // The monitor stays usable after an error.
        CPPUNIT_ASSERT_EQUAL(std::string("prelaunch"), mon.queryStatus());
    }

    void testSendFd()
    {
        Qemu q;
        Monitor mon = q.connect();
        int p[2];
        CPPUNIT_ASSERT(pipe2(p, O_CLOEXEC) == 0);
        UniqueFd r(p[0]), w(p[1]);
        std::string target = std::filesystem::read_symlink("/proc/self/fd/" +
                                                           std::to_string(r.get()));
        CPPUNIT_ASSERT(!fdTargets(q.child().pid()).count(target));
        mon.sendFd("vdtap0", r.get());
        // QEMU now holds the very same pipe.
        CPPUNIT_ASSERT(fdTargets(q.child().pid()).count(target));
        mon.closeFd("vdtap0");
        CPPUNIT_ASSERT(!fdTargets(q.child().pid()).count(target));
        std::string err = errorText([&] { mon.closeFd("vdtap0"); }, VIR_ERR_INTERNAL_ERROR);
        CPPUNIT_ASSERT_EQUAL(std::string("internal error: unable to execute QEMU command "
                                         "'closefd': File descriptor named 'vdtap0' not found"),
                             err);
    }

    void testNicsLinkAndHotplug()
    {
        Qemu q({"-M", "pc", "-netdev", "hubport,id=hp0,hubid=0", "-device",
                "virtio-net-pci,id=net0,netdev=hp0,mac=52:54:00:12:34:56"});
        Monitor mon = q.connect();
        auto devs = mon.peripheralDevices();
        CPPUNIT_ASSERT_EQUAL(size_t(1), devs.size());
        CPPUNIT_ASSERT_EQUAL(std::string("net0"), devs[0].first);
        CPPUNIT_ASSERT_EQUAL(std::string("virtio-net-pci"), devs[0].second);
        CPPUNIT_ASSERT(mon.deviceRealized("net0"));
        CPPUNIT_ASSERT(!mon.deviceRealized("net1"));
        mon.setLink("net0", false);
        mon.setLink("net0", true);
        try {
            mon.setLink("net9", false);
            CPPUNIT_FAIL("expected an error");
        } catch (const MonitorError &e) {
            CPPUNIT_ASSERT_EQUAL(std::string("DeviceNotFound"), e.qmpClass());
        }
        // Hot-plug a second NIC on its own hub.
        mon.netdevAdd(JsonValue::object({{"type", "hubport"}, {"id", "hp1"}, {"hubid", 1}}));
        mon.deviceAdd(JsonValue::object(
            {{"driver", "virtio-net-pci"}, {"id", "net1"}, {"netdev", "hp1"}}));
        CPPUNIT_ASSERT(mon.deviceRealized("net1"));
        CPPUNIT_ASSERT_EQUAL(size_t(2), mon.peripheralDevices().size());
        std::string info = mon.humanMonitorCommand("info network");
        CPPUNIT_ASSERT(info.find("net1") != std::string::npos);
    }

    void testEventsAndQuit()
    {
        Qemu q;
        Monitor mon = q.connect();
        mon.cont();
        auto resume = mon.waitForEvent("RESUME", seconds(10));
        CPPUNIT_ASSERT(resume);
        CPPUNIT_ASSERT(resume->has("timestamp"));
        mon.stop();
        CPPUNIT_ASSERT(mon.waitForEvent("STOP", seconds(10)));
        mon.quit();
        auto shutdown = mon.waitForEvent("SHUTDOWN", seconds(10));
        CPPUNIT_ASSERT(shutdown);
        CPPUNIT_ASSERT_EQUAL(std::string("host-qmp-quit"),
                             shutdown->get("data").get("reason").asString());
        auto st = q.child().waitFor(seconds(10));
        CPPUNIT_ASSERT(st && st->success());
        // The socket reports EOF now.
        while (mon.readPending()) {
        }
        CPPUNIT_ASSERT(mon.closed());
        CPPUNIT_ASSERT_EQUAL(std::string("operation failed: End of file from qemu monitor"),
                             errorText([&] { mon.queryStatus(); }, VIR_ERR_OPERATION_FAILED));
    }

    void testQemuDies()
    {
        Qemu q;
        Monitor mon = q.connect();
        q.child().kill(SIGKILL);
        q.child().wait();
        errorText([&] { mon.queryStatus(); }, VIR_ERR_OPERATION_FAILED);
    }

    void testConnectRetry()
    {
        // QEMU creates the socket itself: the client must retry until then.
        std::string bin = qemuBinary();
        char tmpl[] = "/tmp/vdmontest.XXXXXX";
        std::string dir = mkdtemp(tmpl);
        std::string path = dir + "/qmp.sock";
        vd::Child child = vd::Command(bin, {"-M", "none", "-S", "-display", "none",
                                            "-nodefaults", "-qmp",
                                            "unix:" + path + ",server=on,wait=off"})
                              .spawn();
        child.setTerminateGrace(seconds(2));
        {
            Monitor mon = Monitor::connect(path, seconds(20), [&] { return !child.tryWait(); });
            CPPUNIT_ASSERT_EQUAL(std::string("prelaunch"), mon.queryStatus());
            mon.quit();
        }
        CPPUNIT_ASSERT(child.waitFor(seconds(10)));
        std::filesystem::remove_all(dir);
    }

    void testConnectGivesUpWhenDead()
    {
        std::string err = errorText(
            [] { Monitor::connect("/nonexistent/vd.sock", seconds(30), [] { return false; }); },
            VIR_ERR_OPERATION_FAILED);
        // This error (not a timeout) shows it gave up as soon as QEMU was gone.
        CPPUNIT_ASSERT_EQUAL(std::string("operation failed: QEMU exited while connecting to "
                                         "its monitor"),
                             err);
        auto t0 = steady_clock::now();
        errorText([] { Monitor::connect("/nonexistent/vd.sock", milliseconds(100)); },
                  VIR_ERR_SYSTEM_ERROR);
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(90));
    }

    void testFakeLateReplyAndEvents()
    {
        FakeQmp fake;
        std::thread server([&] {
            fake.send(greeting);
            JsonValue caps = fake.receive();
            fake.send(R"({"return": {}, "id": )" + caps.get("id").toString() + "}");
            JsonValue cmd = fake.receive();
            // A stale reply to an older command and an event come first.
            fake.send(R"({"return": "stale", "id": "vd-0"})");
            fake.send(R"({"event": "NIC_RX_FILTER_CHANGED", "data": {"name": "net0"}})");
            fake.send(R"({"return": {"status": "running"}, "id": )" +
                      cmd.get("id").toString() + "}");
            fake.send(R"({"event": "SHUTDOWN", "data": {"guest": true}})");
            fake.close();
        });
        Monitor mon = Monitor::open(fake.clientEnd(), seconds(5));
        CPPUNIT_ASSERT_EQUAL(std::string("7.2.1"), mon.qemuVersion());
        CPPUNIT_ASSERT_EQUAL(std::string("running"), mon.queryStatus());
        server.join();
        auto shutdown = mon.waitForEvent("SHUTDOWN", seconds(5));
        CPPUNIT_ASSERT(shutdown);
        auto events = mon.takeEvents();
        CPPUNIT_ASSERT_EQUAL(size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("NIC_RX_FILTER_CHANGED"),
                             events[0].get("event").asString());
        CPPUNIT_ASSERT(!mon.waitForEvent("RESUME", milliseconds(50)));
        CPPUNIT_ASSERT(mon.closed());
    }

    void testFakeTimeout()
    {
        FakeQmp fake;
        fake.send(greeting);
        std::thread server([&] {
            JsonValue caps = fake.receive();
            fake.send(R"({"return": {}, "id": )" + caps.get("id").toString() + "}");
            fake.receive(); // and never answer
        });
        Monitor mon = Monitor::open(fake.clientEnd(), seconds(5));
        mon.setCommandTimeout(milliseconds(100));
        auto t0 = steady_clock::now();
        std::string err = errorText([&] { mon.execute("query-status"); },
                                    VIR_ERR_OPERATION_TIMEOUT);
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(90));
        CPPUNIT_ASSERT(err.find("query-status") != std::string::npos);
        server.join();
    }

    void testFakeBadGreeting()
    {
        FakeQmp fake;
        fake.send(R"({"hello": 1})");
        CPPUNIT_ASSERT(errorText([&] { Monitor::open(fake.clientEnd(), seconds(5)); },
                                 VIR_ERR_INTERNAL_ERROR)
                           .find("greeting") != std::string::npos);
        FakeQmp silent;
        errorText([&] { Monitor::open(silent.clientEnd(), milliseconds(100)); },
                  VIR_ERR_OPERATION_TIMEOUT);
        FakeQmp garbage;
        garbage.send("{not json");
        errorText([&] { Monitor::open(garbage.clientEnd(), seconds(5)); }, VIR_ERR_INTERNAL_ERROR);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuMonitorTest);
