#include <config.h>

#include <optional>
#include <vector>

#include "testutils.h"
#include "util/virbitmap.h"

namespace {

class BitmapTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(BitmapTest);
    CPPUNIT_TEST(testSetClearTest);
    CPPUNIT_TEST(testNextSet);
    CPPUNIT_TEST(testNextClear);
    CPPUNIT_TEST(testGrowAndCount);
    CPPUNIT_TEST(testWordBoundaries);
    CPPUNIT_TEST(testSparse);
    CPPUNIT_TEST(testAgainstReference);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSetClearTest()
    {
        vd::Bitmap b(10);
        CPPUNIT_ASSERT_EQUAL(size_t(10), b.size());
        CPPUNIT_ASSERT(!b.test(3));
        b.set(3);
        CPPUNIT_ASSERT(b.test(3));
        b.clear(3);
        CPPUNIT_ASSERT(!b.test(3));
        // Out of range: test is false, clear is a no-op, set grows.
        CPPUNIT_ASSERT(!b.test(1000));
        b.clear(1000);
        b.set(1000);
        CPPUNIT_ASSERT(b.test(1000));
        CPPUNIT_ASSERT(b.size() > 1000);
        b.clearAll();
        CPPUNIT_ASSERT_EQUAL(size_t(0), b.count());
    }

    void testNextSet()
    {
        vd::Bitmap b(300);
        CPPUNIT_ASSERT(!b.nextSet(0));
        b.set(5);
        b.set(64);
        b.set(299);
        CPPUNIT_ASSERT_EQUAL(size_t(5), *b.nextSet(0));
        CPPUNIT_ASSERT_EQUAL(size_t(5), *b.nextSet(5));
        CPPUNIT_ASSERT_EQUAL(size_t(64), *b.nextSet(6));
        CPPUNIT_ASSERT_EQUAL(size_t(299), *b.nextSet(65));
        CPPUNIT_ASSERT(!b.nextSet(300));
    }

    void testNextClear()
    {
        vd::Bitmap b(200);
        for (size_t i = 0; i < 130; ++i)
            b.set(i);
        CPPUNIT_ASSERT_EQUAL(size_t(130), *b.nextClear(0));
        b.clear(70);
        CPPUNIT_ASSERT_EQUAL(size_t(70), *b.nextClear(0));
        CPPUNIT_ASSERT_EQUAL(size_t(130), *b.nextClear(71));
        for (size_t i = 130; i < 200; ++i)
            b.set(i);
        CPPUNIT_ASSERT(!b.nextClear(71)); // full up to size()
    }

    void testGrowAndCount()
    {
        vd::Bitmap b;
        CPPUNIT_ASSERT_EQUAL(size_t(0), b.size());
        CPPUNIT_ASSERT(!b.nextClear(0));
        for (size_t i = 0; i < 1000; i += 3)
            b.set(i);
        CPPUNIT_ASSERT_EQUAL(size_t(334), b.count());
        b.grow(10); // never shrinks
        CPPUNIT_ASSERT(b.size() >= 1000);
        CPPUNIT_ASSERT(b.test(999));
    }

    void testWordBoundaries()
    {
        vd::Bitmap b(129);
        for (size_t i = 0; i < 129; ++i)
            b.set(i);
        CPPUNIT_ASSERT(!b.nextClear(0));
        b.clear(63);
        b.clear(128);
        CPPUNIT_ASSERT_EQUAL(size_t(63), *b.nextClear(0));
        CPPUNIT_ASSERT_EQUAL(size_t(128), *b.nextClear(64));
        CPPUNIT_ASSERT_EQUAL(size_t(127), b.count());
    }

    // Far-apart bits (a foreign "macvtap99999999") are cheap and scans
    // cross the unallocated chunks between them.
    void testSparse()
    {
        vd::Bitmap b;
        b.set(3);
        b.set(99999999);
        CPPUNIT_ASSERT_EQUAL(size_t(100000000), b.size());
        CPPUNIT_ASSERT_EQUAL(size_t(2), b.count());
        CPPUNIT_ASSERT_EQUAL(size_t(99999999), *b.nextSet(4));
        CPPUNIT_ASSERT_EQUAL(size_t(4), *b.nextClear(3));
        CPPUNIT_ASSERT_EQUAL(size_t(5000), *b.nextClear(5000));
        CPPUNIT_ASSERT(!b.nextClear(99999999));
        CPPUNIT_ASSERT(!b.nextSet(100000000));
        b.clear(99999999);
        CPPUNIT_ASSERT(!b.nextSet(4));
    }

    // Random operations against a std::vector<bool> model.
    void testAgainstReference()
    {
        vd::Bitmap b(20000);
        std::vector<bool> ref(20000, false);
        uint64_t x = 88172645463325252ull;
        auto rnd = [&] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return x;
        };
        for (int i = 0; i < 4000; ++i) {
            size_t bit = rnd() % 20000;
            if (rnd() % 3)
                b.set(bit), ref[bit] = true;
            else
                b.clear(bit), ref[bit] = false;
            size_t from = rnd() % 20000;
            std::optional<size_t> s, c;
            for (size_t k = from; k < 20000; ++k) {
                if (ref[k] && !s)
                    s = k;
                if (!ref[k] && !c)
                    c = k;
            }
            CPPUNIT_ASSERT(s == b.nextSet(from));
            CPPUNIT_ASSERT(c == b.nextClear(from));
        }
        size_t n = 0;
        for (bool v : ref)
            n += v;
        CPPUNIT_ASSERT_EQUAL(n, b.count());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(BitmapTest);

} // namespace
