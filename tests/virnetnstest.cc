// The private-namespace fixture must never leave a namespace behind.
#include <config.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testnetns.h"
#include "testutils.h"
#include "virnetns.h"

namespace {

bool exists(const std::string &path) { return ::access(path.c_str(), F_OK) == 0; }

class NetnsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NetnsTest);
    CPPUNIT_TEST(testRemovedOnDestruction);
    CPPUNIT_TEST(testRemovedAfterFailingBody);
    CPPUNIT_TEST(testRemovedOnSignal);
    CPPUNIT_TEST(testRemovedWhenIpCannotRun);
    CPPUNIT_TEST(testSysfsShowsTheNamespace);
    CPPUNIT_TEST(testRunIpBigInputAndOutput);
    CPPUNIT_TEST(testRunIpStopsReading);
    CPPUNIT_TEST_SUITE_END();

public:
    void testRemovedOnDestruction()
    {
        std::string path;
        {
            vd::test::TestNetns ns;
            path = ns.path();
            CPPUNIT_ASSERT(exists(path));
            auto links = ns.links();
            CPPUNIT_ASSERT_EQUAL(size_t(3), links.size());
        }
        CPPUNIT_ASSERT(!exists(path));
    }

    void testRemovedAfterFailingBody()
    {
        std::string path;
        try {
            vd::test::TestNetns ns;
            path = ns.path();
            ns.run([] { throw std::runtime_error("boom"); });
            CPPUNIT_FAIL("exception in the child not reported");
        } catch (const CppUnit::Exception &e) {
            CPPUNIT_ASSERT(std::string(e.what()).find("boom") != std::string::npos);
        }
        CPPUNIT_ASSERT(!path.empty());
        CPPUNIT_ASSERT(!exists(path));
    }

    // A process killed by SIGTERM while holding a namespace removes it.
    void testRemovedOnSignal()
    {
        if (!vd::test::isRoot())
            vd::test::skip("needs root to create a network namespace");
        int p[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(p));
        std::fflush(nullptr);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(p[0]);
            try {
                vd::NamedNetns ns("vdt");
                std::string path = ns.path() + "\n";
                ssize_t ignored = ::write(p[1], path.data(), path.size());
                (void)ignored;
                ::raise(SIGTERM);
            } catch (...) {
            }
            ::_exit(3);
        }
        ::close(p[1]);
        std::string path;
        char c;
        while (::read(p[0], &c, 1) == 1 && c != '\n')
            path += c;
        ::close(p[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CPPUNIT_ASSERT(WIFSIGNALED(status));
        CPPUNIT_ASSERT_EQUAL(SIGTERM, WTERMSIG(status));
        CPPUNIT_ASSERT(!path.empty());
        CPPUNIT_ASSERT(!exists(path));
    }

    // The destructor runs `ip netns del`; when that cannot even be started
    // (here: no fd left for its pipes) runIp throws.  Escaping the
    // (noexcept) destructor that was std::terminate(); the namespace must
    // be removed by hand instead.
    void testRemovedWhenIpCannotRun()
    {
        if (!vd::test::isRoot())
            vd::test::skip("needs root to create a network namespace");
#ifdef __SANITIZE_ADDRESS__
        // UBSan's vptr check probes memory through a pipe: with the fd table
        // exhausted it reports a false "invalid vptr" and aborts.
        vd::test::skip("sanitizer runtimes need free fds themselves");
#endif
        int p[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(p));
        std::fflush(nullptr);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(p[0]);
            try {
                std::string path;
                {
                    vd::NamedNetns ns("vdt");
                    path = ns.path() + "\n";
                    ssize_t ignored = ::write(p[1], path.data(), path.size());
                    (void)ignored;
                    // Fill the fd table up to a lowered limit.
                    rlimit rl{64, 64};
                    ::setrlimit(RLIMIT_NOFILE, &rl);
                    while (::dup(0) >= 0 || ::dup(p[1]) >= 0) {
                    }
                }
                ::_exit(0);
            } catch (...) {
            }
            ::_exit(3);
        }
        ::close(p[1]);
        std::string path;
        char c;
        while (::read(p[0], &c, 1) == 1 && c != '\n')
            path += c;
        ::close(p[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CPPUNIT_ASSERT(!path.empty());
        bool left = exists(path);
        if (left)
            vd::runIp({"netns", "del", path.substr(path.rfind('/') + 1)});
        CPPUNIT_ASSERT_MESSAGE("child did not exit cleanly", WIFEXITED(status));
        CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
        CPPUNIT_ASSERT(!left);
    }

    // Megabytes both ways must not deadlock on full pipes.
    void testRunIpBigInputAndOutput()
    {
        vd::test::TestNetns ns(false);
        std::string cmds;
        for (int i = 0; i < 5000; ++i)
            cmds += "link show lo\n";
        std::string out;
        CPPUNIT_ASSERT_EQUAL(0, vd::runIp({"-n", ns.name(), "-batch", "-"}, cmds, &out));
        CPPUNIT_ASSERT(out.size() > 5000 * 50);
    }

    // ip gives up at the first bad line; the rest of our input hits EPIPE,
    // which must neither kill us (SIGPIPE) nor hang.
    void testRunIpStopsReading()
    {
        vd::test::TestNetns ns(false);
        std::string cmds = "bogus command\n";
        for (int i = 0; i < 100000; ++i)
            cmds += "link show lo\n";
        std::string out;
        CPPUNIT_ASSERT(vd::runIp({"-n", ns.name(), "-batch", "-"}, cmds, &out) != 0);
        sigset_t pending;
        sigpending(&pending);
        CPPUNIT_ASSERT(!sigismember(&pending, SIGPIPE));
    }

    void testSysfsShowsTheNamespace()
    {
        vd::test::TestNetns ns;
        ns.run([] {
            CPPUNIT_ASSERT(exists("/sys/class/net/vdp0"));
            CPPUNIT_ASSERT(exists("/sys/class/net/vdp1"));
            CPPUNIT_ASSERT(!exists("/sys/class/net/eth0"));
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(NetnsTest);

} // namespace
