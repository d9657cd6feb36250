#include <config.h>

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "testcommand.h"
#include "testnetns.h"
#include "testutils.h"
#include "util/virerror.h"
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
    CPPUNIT_TEST(testReleaseOnFullDisk);
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
    // On a full disk the reservations can still be released (the file is
    // rewritten in place), or a failed start would keep its names for good;
    // growing them fails cleanly.
    void testReleaseOnFullDisk()
    {
        vd::test::TestNetns ns(false); // for its private mount namespace
        ns.run([] {
            TmpDir dir;
            if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=16k") < 0)
                vd::test::skip("cannot mount a tmpfs");
            struct Unmount {
                std::string d;
                ~Unmount() { ::umount2(d.c_str(), MNT_DETACH); }
            } unmount{dir.path()};
            vd::NetdevNameState state(dir.path() + "/netdev");
            {
                auto l = state.lock();
                for (int i = 0; i < 20; ++i)
                    l.data.owners["dom"].names.insert("macvtap" + std::to_string(i));
                l.data.owners["dom"].group = 7;
                l.data.owners["other"].names.insert("macvtap99");
                l.save();
            }
            {
                std::ofstream out(dir.path() + "/filler");
                std::string page(4096, 'x');
                while (out.write(page.data(), page.size()) && out.flush()) {
                }
            }
            {
                auto l = state.lock();
                for (int i = 100; i < 400; ++i)
                    l.data.owners["big"].names.insert("macvtap" + std::to_string(i));
                CPPUNIT_ASSERT_THROW(l.save(), vd::SystemError);
            }
            state.release("dom", {"macvtap3"});
            CPPUNIT_ASSERT_EQUAL(size_t(19), state.reservedNames("dom").size());
            state.release("dom");
            CPPUNIT_ASSERT(state.reservedNames("dom").empty());
            CPPUNIT_ASSERT_EQUAL(uint32_t(0), state.groupOf("dom"));
            CPPUNIT_ASSERT(state.reservedNames("big").empty());
            CPPUNIT_ASSERT(std::set<std::string>{"macvtap99"} == state.reservedNames("other"));
            CPPUNIT_ASSERT(!std::filesystem::exists(dir.path() + "/netdev/names.new"));
        });
    }

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
