#include <config.h>

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
};

CPPUNIT_TEST_SUITE_REGISTRATION(BitmapTest);

} // namespace
