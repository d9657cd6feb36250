// The private-namespace fixture must never leave a namespace behind.
#include <config.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testnetns.h"
#include "testutils.h"
#include "util/virnetns.h"

namespace {

bool exists(const std::string &path) { return ::access(path.c_str(), F_OK) == 0; }

class NetnsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NetnsTest);
    CPPUNIT_TEST(testRemovedOnDestruction);
    CPPUNIT_TEST(testRemovedAfterFailingBody);
    CPPUNIT_TEST(testRemovedOnSignal);
    CPPUNIT_TEST(testSysfsShowsTheNamespace);
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
