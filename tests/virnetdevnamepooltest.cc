#include <config.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "testcommand.h"
#include "testutils.h"
#include "util/virnetdevnamepool.h"

namespace {

using TmpDir = vd::test::TempDir;

class NamePoolTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NamePoolTest);
    CPPUNIT_TEST(testLimits);
    CPPUNIT_TEST(testIdOf);
    CPPUNIT_TEST(testNextFit);
    CPPUNIT_TEST(testSeededNamesSkipped);
    CPPUNIT_TEST(testWrap);
    CPPUNIT_TEST(testFull);
    CPPUNIT_TEST(testStatePersistsCursorAndNames);
    CPPUNIT_TEST(testStateOwnerWithSpaces);
    CPPUNIT_TEST(testStateLockSerialisesThreads);
    CPPUNIT_TEST_SUITE_END();

public:
    void testLimits()
    {
        CPPUNIT_ASSERT_EQUAL(size_t(100000000), vd::NamePool::maxIdsFor("macvtap"));
        CPPUNIT_ASSERT_EQUAL(size_t(100000000), vd::NamePool::maxIdsFor("macvlan"));
        vd::NamePool p("macvtap");
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap99999999"), p.nameOf(p.limit() - 1));
        CPPUNIT_ASSERT(p.nameOf(p.limit() - 1).size() < 16);
    }

    void testIdOf()
    {
        vd::NamePool p("macvtap");
        CPPUNIT_ASSERT_EQUAL(size_t(0), *p.idOf("macvtap0"));
        CPPUNIT_ASSERT_EQUAL(size_t(42), *p.idOf("macvtap42"));
        CPPUNIT_ASSERT(!p.idOf("macvtap"));
        CPPUNIT_ASSERT(!p.idOf("macvtap07"));
        CPPUNIT_ASSERT(!p.idOf("macvtap1x"));
        CPPUNIT_ASSERT(!p.idOf("macvlan1"));
        CPPUNIT_ASSERT(!p.idOf("eth0"));
    }

    void testNextFit()
    {
        vd::NamePool p("macvtap");
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap0"), *p.allocateName());
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap1"), *p.allocateName());
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap2"), *p.allocateName());
        // A released name is not handed out again straight away.
        p.markFree(1);
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap3"), *p.allocateName());
        CPPUNIT_ASSERT_EQUAL(size_t(4), p.cursor());
    }

    void testSeededNamesSkipped()
    {
        vd::NamePool p("macvtap");
        for (const char *n : {"macvtap0", "macvtap1", "macvtap3", "eth0", "macvtap007"})
            p.markTaken(std::string(n));
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap2"), *p.allocateName());
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap4"), *p.allocateName());
    }

    void testWrap()
    {
        vd::NamePool p("macvtap", 4);
        for (int i = 0; i < 4; ++i)
            p.allocate();
        p.markFree(1);
        CPPUNIT_ASSERT_EQUAL(size_t(0), p.cursor());
        CPPUNIT_ASSERT_EQUAL(size_t(1), *p.allocate()); // after wrapping
    }

    void testFull()
    {
        vd::NamePool p("macvtap", 3);
        for (int i = 0; i < 3; ++i)
            CPPUNIT_ASSERT(p.allocate());
        CPPUNIT_ASSERT(!p.allocate());
    }

    void testStatePersistsCursorAndNames()
    {
        TmpDir dir;
        {
            vd::NetdevNameState st(dir.path() + "/netdev");
            auto l = st.lock();
            l.data.cursors["macvtap"] = 17;
            l.data.owners["dom1"].names = {"macvtap15", "macvtap16"};
            l.data.owners["dom1"].group = 0x76640001;
            l.save();
        }
        vd::NetdevNameState st(dir.path() + "/netdev");
        CPPUNIT_ASSERT_EQUAL(size_t(2), st.reservedNames("dom1").size());
        CPPUNIT_ASSERT_EQUAL(uint32_t(0x76640001), st.groupOf("dom1"));
        {
            auto l = st.lock();
            CPPUNIT_ASSERT_EQUAL(size_t(17), l.data.cursors["macvtap"]);
        }
        st.release("dom1", {"macvtap15"});
        CPPUNIT_ASSERT_EQUAL(size_t(1), st.reservedNames("dom1").size());
        st.release("dom1");
        CPPUNIT_ASSERT(st.reservedNames("dom1").empty());
        CPPUNIT_ASSERT_EQUAL(uint32_t(0), st.groupOf("dom1"));
    }

    void testStateOwnerWithSpaces()
    {
        TmpDir dir;
        vd::NetdevNameState st(dir.path());
        {
            auto l = st.lock();
            l.data.owners["my guest"].names = {"macvtap3"};
            l.save();
        }
        CPPUNIT_ASSERT_EQUAL(size_t(1), st.reservedNames("my guest").size());
    }

    // Many threads each lock, read the cursor, bump it and save: with the
    // lock nobody's update is lost.
    void testStateLockSerialisesThreads()
    {
        TmpDir dir;
        vd::NetdevNameState st(dir.path());
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 20; ++i) {
                    auto l = st.lock();
                    l.data.cursors["macvtap"] += 1;
                    l.save();
                }
            });
        for (auto &t : threads)
            t.join();
        auto l = st.lock();
        CPPUNIT_ASSERT_EQUAL(size_t(160), l.data.cursors["macvtap"]);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(NamePoolTest);

} // namespace
