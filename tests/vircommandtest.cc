// Tests for vd::Command / vd::Child against real processes: the exact set
// of inherited fds, exec failures, logs, timeouts and killing.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "testcommand.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virfile.h"

using namespace std::chrono;
using vd::Child;
using vd::Command;
using vd::UniqueFd;

namespace {

// The fd numbers a running process holds, read from outside.
std::set<int> openFds(pid_t pid)
{
    std::set<int> out;
    for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        out.insert(std::stoi(e.path().filename().string()));
    return out;
}

std::string fdTarget(pid_t pid, int fd)
{
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/" +
                                         std::to_string(fd))
        .string();
}

std::string fdTarget(int fd) { return fdTarget(getpid(), fd); }

// A line "Key:\tvalue" of /proc/PID/status.
std::string procStatus(pid_t pid, const std::string &key)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, key.size() + 1, key + ":") == 0) {
            std::string v = line.substr(key.size() + 1);
            return v.substr(v.find_first_not_of(" \t"));
        }
    return "";
}

bool processGone(pid_t pid) { return kill(pid, 0) < 0 && errno == ESRCH; }

using vd::test::TempDir;

} // namespace

class VirCommandTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirCommandTest);
    CPPUNIT_TEST(testExactlyTheGivenFds);
    CPPUNIT_TEST(testSwappedFdNumbers);
    CPPUNIT_TEST(testManyFds);
    CPPUNIT_TEST(testCleanSignalStateAndSession);
    CPPUNIT_TEST(testMissingProgram);
    CPPUNIT_TEST(testNotExecutable);
    CPPUNIT_TEST(testLogFile);
    CPPUNIT_TEST(testRunCapturesOutputAndStatus);
    CPPUNIT_TEST(testEnvironment);
    CPPUNIT_TEST(testWaitTimeout);
    CPPUNIT_TEST(testTerminateEscalatesToKill);
    CPPUNIT_TEST(testDestructorKills);
    CPPUNIT_TEST(testDetach);
    CPPUNIT_TEST(testRunTimeout);
    CPPUNIT_TEST_SUITE_END();

public:
    void testExactlyTheGivenFds()
    {
        int p[2];
        CPPUNIT_ASSERT(pipe(p) == 0); // deliberately NOT close-on-exec
        UniqueFd r(p[0]), w(p[1]);
        UniqueFd leak(open("/dev/null", O_RDONLY)); // must not be inherited
        Child c = Command("sleep", {"30"}).passFd(3, r.get()).passFd(7, w.get()).spawn();
        CPPUNIT_ASSERT(c.running());
        CPPUNIT_ASSERT(c.pidfd() >= 0);
        std::set<int> want{0, 1, 2, 3, 7};
        // spawn() returns when exec closed the error pipe; the kernel may
        // still be closing the child's other close-on-exec fds right then.
        for (int i = 0; i < 1000 && openFds(c.pid()) != want; ++i)
            std::this_thread::sleep_for(milliseconds(10));
        CPPUNIT_ASSERT(openFds(c.pid()) == want);
        CPPUNIT_ASSERT_EQUAL(fdTarget(r.get()), fdTarget(c.pid(), 3));
        CPPUNIT_ASSERT_EQUAL(fdTarget(w.get()), fdTarget(c.pid(), 7));
        CPPUNIT_ASSERT_EQUAL(std::string("/dev/null"), fdTarget(c.pid(), 0));
        CPPUNIT_ASSERT_EQUAL(std::string("/dev/null"), fdTarget(c.pid(), 1));
        // Our fds keep their close-on-exec state.
        CPPUNIT_ASSERT_EQUAL(0, fcntl(r.get(), F_GETFD) & FD_CLOEXEC);
        auto st = c.terminate(seconds(5));
        CPPUNIT_ASSERT(st.signaled());
        CPPUNIT_ASSERT_EQUAL(SIGTERM, st.signal());
    }

    void testSwappedFdNumbers()
    {
        // Each source fd's number is the other's target: a naive dup2 loop
        // would clobber one before copying it.
        UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
        UniqueFd b(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
        std::string aTarget = fdTarget(a.get()), bTarget = fdTarget(b.get());
        Child c = Command("sleep", {"30"}).passFd(a.get(), b.get()).passFd(b.get(), a.get()).spawn();
        CPPUNIT_ASSERT_EQUAL(bTarget, fdTarget(c.pid(), a.get()));
        CPPUNIT_ASSERT_EQUAL(aTarget, fdTarget(c.pid(), b.get()));
        c.terminate(seconds(5));
    }

    // A big domain hands QEMU over a thousand tap fds (250 NICs with 4
    // queues plus vhost): no fixed limit on the number of mappings.
    void testManyFds()
    {
        const int n = 1500;
        struct rlimit rl;
        CPPUNIT_ASSERT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * n + 64)
            vd::test::skip("the open file limit is too low");
        struct rlimit raised = rl;
        raised.rlim_cur = std::max<rlim_t>(rl.rlim_cur, 2 * n + 64);
        CPPUNIT_ASSERT(setrlimit(RLIMIT_NOFILE, &raised) == 0);
        UniqueFd devNull(open("/dev/null", O_RDONLY | O_CLOEXEC));
        Command cmd("sleep", {"30"});
        for (int i = 0; i < n; ++i)
            cmd.passFd(3 + i, devNull.get());
        Child c = cmd.spawn();
        setrlimit(RLIMIT_NOFILE, &rl);
        CPPUNIT_ASSERT_EQUAL(size_t(3 + n), openFds(c.pid()).size());
        CPPUNIT_ASSERT_EQUAL(std::string("/dev/null"), fdTarget(c.pid(), 3 + n - 1));
        c.terminate(seconds(5));
    }

    void testCleanSignalStateAndSession()
    {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        struct sigaction ign {}, prev {};
        ign.sa_handler = SIG_IGN;
        sigaction(SIGUSR2, &ign, &prev);
        Child c = Command("sleep", {"30"}).spawn();
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        sigaction(SIGUSR2, &prev, nullptr);
        // Right after exec the new program's libc start-up may briefly touch
        // its internal signals: look at the settled state.
        std::string blocked, ignored;
        for (int i = 0; i < 400; ++i) {
            blocked = procStatus(c.pid(), "SigBlk");
            ignored = procStatus(c.pid(), "SigIgn");
            if (blocked == "0000000000000000" && ignored == "0000000000000000")
                break;
            std::this_thread::sleep_for(milliseconds(5));
        }
        CPPUNIT_ASSERT_EQUAL(std::string("0000000000000000"), blocked);
        CPPUNIT_ASSERT_EQUAL(std::string("0000000000000000"), ignored);
        // A new session: the child leads it.
        CPPUNIT_ASSERT_EQUAL(c.pid(), getsid(c.pid()));
        c.terminate(seconds(5));

        Child same = Command("sleep", {"30"}).setNewSession(false).spawn();
        CPPUNIT_ASSERT_EQUAL(getsid(0), getsid(same.pid()));
        same.terminate(seconds(5));
    }

    void testMissingProgram()
    {
        try {
            Command("vd-no-such-program-xyz").spawn();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::SystemError &e) {
            CPPUNIT_ASSERT_EQUAL(ENOENT, e.errnum());
            CPPUNIT_ASSERT_EQUAL(std::string("Cannot find 'vd-no-such-program-xyz' in path: "
                                             "No such file or directory"),
                                 std::string(e.what()));
        }
        try {
            Command("/nonexistent/prog").spawn();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::SystemError &e) {
            CPPUNIT_ASSERT_EQUAL(ENOENT, e.errnum());
            CPPUNIT_ASSERT_EQUAL(std::string("cannot execute binary /nonexistent/prog: "
                                             "No such file or directory"),
                                 std::string(e.what()));
        }
    }

    void testNotExecutable()
    {
        TempDir dir;
        std::string file = dir.path() + "/plain";
        std::ofstream(file) << "#!/bin/sh\n";
        chmod(file.c_str(), 0644);
        if (vd::test::isRoot() && access(file.c_str(), X_OK) == 0)
            vd::test::skip("root can execute anything here");
        try {
            Command(file).spawn();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::SystemError &e) {
            CPPUNIT_ASSERT_EQUAL(EACCES, e.errnum());
        }
    }

    void testLogFile()
    {
        TempDir dir;
        std::string log = dir.path() + "/child.log";
        std::ofstream(log) << "previous\n";
        Child c = Command("sh", {"-c", "echo out; echo err >&2; exit 3"}).setLogFile(log).spawn();
        auto st = c.wait();
        CPPUNIT_ASSERT(st.exited());
        CPPUNIT_ASSERT_EQUAL(3, st.exitCode());
        CPPUNIT_ASSERT_EQUAL(std::string("exit status 3"), st.describe());
        // Appended, both streams.
        CPPUNIT_ASSERT_EQUAL(std::string("previous\nout\nerr\n"), vd::readFile(log));
        struct stat sb;
        std::filesystem::remove(log);
        Command("true").setLogFile(log).spawn().wait();
        CPPUNIT_ASSERT(stat(log.c_str(), &sb) == 0);
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(sb.st_mode & 0777));
    }

    void testRunCapturesOutputAndStatus()
    {
        auto out = Command("sh", {"-c", "echo hello; echo oops >&2; exit 2"}).run();
        CPPUNIT_ASSERT_EQUAL(2, out.status.exitCode());
        CPPUNIT_ASSERT_EQUAL(std::string("hello\noops\n"), out.output);
        CPPUNIT_ASSERT_EQUAL(std::string("ok\n"), Command("echo", {"ok"}).runChecked());
        try {
            Command("sh", {"-c", "echo bad thing >&2; exit 1"}).runChecked();
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
            CPPUNIT_ASSERT_EQUAL(std::string("internal error: Child process (sh -c 'echo bad "
                                             "thing >&2; exit 1') unexpected exit status 1: "
                                             "bad thing"),
                                 std::string(e.what()));
        }
    }

    void testEnvironment()
    {
        auto out = Command("sh", {"-c", "echo \"$VD_A-$VD_B-$HOME\""})
                       .setEnv({"VD_A=1", "HOME=/nowhere", "PATH=/usr/bin:/bin"})
                       .addEnv("VD_B=2")
                       .addEnv("HOME=/h")
                       .run();
        CPPUNIT_ASSERT_EQUAL(std::string("1-2-/h\n"), out.output);
    }

    void testWaitTimeout()
    {
        Child c = Command("sleep", {"30"}).spawn();
        auto t0 = steady_clock::now();
        // false: it gave up after the timeout, not when sleep ended.
        CPPUNIT_ASSERT(!c.waitFor(milliseconds(150)));
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(140));
        CPPUNIT_ASSERT(c.running());
        c.kill(SIGKILL);
        auto st = c.waitFor(seconds(5));
        CPPUNIT_ASSERT(st && st->signaled());
        CPPUNIT_ASSERT_EQUAL(std::string("fatal signal 9"), st->describe());
        CPPUNIT_ASSERT(!c.running());
        c.kill(SIGTERM); // a no-op once reaped
    }

    void testTerminateEscalatesToKill()
    {
        // Ignores SIGTERM (exec keeps the ignored disposition).
        Child c = Command("sh", {"-c", "trap '' TERM; exec sleep 30"}).spawn();
        // Give sh time to install the trap and exec.
        for (int i = 0; i < 200 && procStatus(c.pid(), "Name") != "sleep"; ++i)
            std::this_thread::sleep_for(milliseconds(5));
        auto t0 = steady_clock::now();
        auto st = c.terminate(milliseconds(200));
        CPPUNIT_ASSERT(st.signaled());
        CPPUNIT_ASSERT_EQUAL(SIGKILL, st.signal());
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(190));
    }

    void testDestructorKills()
    {
        pid_t pid;
        {
            Child c = Command("sleep", {"30"}).spawn();
            pid = c.pid();
            Child moved = std::move(c); // ownership moves with the object
            CPPUNIT_ASSERT_EQUAL(-1, c.pid());
        }
        CPPUNIT_ASSERT(processGone(pid));
    }

    void testDetach()
    {
        pid_t pid;
        {
            Child c = Command("sleep", {"30"}).spawn();
            pid = c.detach();
        }
        CPPUNIT_ASSERT(!processGone(pid));
        kill(pid, SIGKILL);
        int st;
        CPPUNIT_ASSERT_EQUAL(pid, waitpid(pid, &st, 0));
    }

    void testRunTimeout()
    {
        // A timeout error (not sleep's normal exit) shows run() gave up.
        try {
            Command("sleep", {"30"}).run(milliseconds(200));
            CPPUNIT_FAIL("expected a timeout");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_OPERATION_TIMEOUT, e.code());
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirCommandTest);
