// SPDX-License-Identifier: LGPL-2.1-or-later
// Unit tests for the XDR codec, the packet framing and the wire forms of
// remote-protocol objects: round trips of every type used, exact bytes,
// boundary lengths and malformed input (always a vd::Error, never a crash).
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <limits>
#include <random>
#include <string>

#include "remote/remote_protocol.h"
#include "rpc/virnetmessage.h"
#include "rpc/virxdr.h"
#include "testutils.h"
#include "util/virerror.h"

using vd::rpc::XdrDecoder;
using vd::rpc::XdrEncoder;

namespace {

std::string bytes(std::initializer_list<int> b)
{
    std::string s;
    for (int c : b)
        s.push_back(static_cast<char>(c));
    return s;
}

// The decoder must refuse `data` when reading it with `read`.
template <typename F>
void assertMalformed(const std::string &data, F read)
{
    XdrDecoder dec(data);
    try {
        read(dec);
        dec.finish();
    } catch (const vd::Error &e) {
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_RPC, e.code());
        CPPUNIT_ASSERT_EQUAL(VIR_FROM_RPC, e.domain());
        return;
    }
    CPPUNIT_FAIL("malformed data was accepted");
}

} // namespace

class VirXdrTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirXdrTest);
    CPPUNIT_TEST(testIntegersExactBytes);
    CPPUNIT_TEST(testIntegerRoundTrips);
    CPPUNIT_TEST(testBool);
    CPPUNIT_TEST(testStringPadding);
    CPPUNIT_TEST(testStringLimits);
    CPPUNIT_TEST(testOptionalString);
    CPPUNIT_TEST(testFixedOpaque);
    CPPUNIT_TEST(testCounts);
    CPPUNIT_TEST(testTruncatedAndTrailing);
    CPPUNIT_TEST(testNonZeroPadding);
    CPPUNIT_TEST(testFraming);
    CPPUNIT_TEST(testErrorBody);
    CPPUNIT_TEST(testDomainAndNetwork);
    CPPUNIT_TEST(testCharArrays);
    CPPUNIT_TEST(testApiNames);
    CPPUNIT_TEST(testRandomGarbageNeverCrashes);
    CPPUNIT_TEST_SUITE_END();

public:
    void testIntegersExactBytes()
    {
        XdrEncoder enc;
        enc.putU32(0x01020304);
        enc.putI32(-2);
        enc.putU64(0x0102030405060708ULL);
        enc.putI64(-1);
        CPPUNIT_ASSERT_EQUAL(bytes({1, 2, 3, 4, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
                             enc.data());
    }

    void testIntegerRoundTrips()
    {
        XdrEncoder enc;
        const uint32_t u32s[] = {0, 1, 0x7fffffff, 0x80000000, 0xffffffff};
        const int32_t i32s[] = {0, -1, std::numeric_limits<int32_t>::min(),
                                std::numeric_limits<int32_t>::max()};
        const uint64_t u64s[] = {0, 1, 0xffffffffULL, 0x100000000ULL,
                                 std::numeric_limits<uint64_t>::max()};
        const int64_t i64s[] = {0, -1, std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max()};
        for (auto v : u32s)
            enc.putU32(v);
        for (auto v : i32s)
            enc.putI32(v);
        for (auto v : u64s)
            enc.putU64(v);
        for (auto v : i64s)
            enc.putI64(v);
        XdrDecoder dec(enc.data());
        for (auto v : u32s)
            CPPUNIT_ASSERT_EQUAL(v, dec.getU32());
        for (auto v : i32s)
            CPPUNIT_ASSERT_EQUAL(v, dec.getI32());
        for (auto v : u64s)
            CPPUNIT_ASSERT_EQUAL(v, dec.getU64());
        for (auto v : i64s)
            CPPUNIT_ASSERT_EQUAL(v, dec.getI64());
        dec.finish();
    }

    void testBool()
    {
        XdrEncoder enc;
        enc.putBool(true);
        enc.putBool(false);
        CPPUNIT_ASSERT_EQUAL(bytes({0, 0, 0, 1, 0, 0, 0, 0}), enc.data());
        XdrDecoder dec(enc.data());
        CPPUNIT_ASSERT(dec.getBool());
        CPPUNIT_ASSERT(!dec.getBool());
        assertMalformed(bytes({0, 0, 0, 2}), [](XdrDecoder &d) { d.getBool(); });
    }

    void testStringPadding()
    {
        // Lengths 0..8 cover every padding amount twice.
        for (size_t len = 0; len <= 8; ++len) {
            std::string s(len, 'x');
            XdrEncoder enc;
            enc.putString(s, 100);
            CPPUNIT_ASSERT_EQUAL(4 + vd::rpc::xdrPadded(len), enc.size());
            XdrDecoder dec(enc.data());
            CPPUNIT_ASSERT_EQUAL(s, dec.getString(100));
            dec.finish();
        }
        XdrEncoder enc;
        enc.putString("abcde", 10);
        CPPUNIT_ASSERT_EQUAL(bytes({0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0, 0}), enc.data());
        // Strings may hold any byte, NUL included.
        std::string binary("a\0b", 3);
        XdrEncoder enc2;
        enc2.putString(binary, 10);
        XdrDecoder dec2(enc2.data());
        CPPUNIT_ASSERT_EQUAL(binary, dec2.getString(10));
    }

    void testStringLimits()
    {
        XdrEncoder enc;
        enc.putString(std::string(16, 'a'), 16); // exactly the limit
        XdrDecoder ok(enc.data());
        CPPUNIT_ASSERT_EQUAL(size_t(16), ok.getString(16).size());
        XdrDecoder tooLong(enc.data());
        CPPUNIT_ASSERT_THROW(tooLong.getString(15), vd::Error);
        XdrEncoder refused;
        CPPUNIT_ASSERT_THROW(refused.putString(std::string(17, 'a'), 16), vd::Error);
        // A length that claims more than the packet holds, far over limit.
        assertMalformed(bytes({0x7f, 0xff, 0xff, 0xff}),
                        [](XdrDecoder &d) { d.getString(vd::remote::RemoteStringMax); });
        // Within the limit but longer than the data.
        assertMalformed(bytes({0, 0, 0, 8, 'a', 'b', 'c', 'd'}),
                        [](XdrDecoder &d) { d.getString(100); });
    }

    void testOptionalString()
    {
        XdrEncoder enc;
        enc.putOptionalString(std::nullopt, 10);
        enc.putOptionalString(std::string("hi"), 10);
        enc.putOptionalString(std::string(), 10);
        CPPUNIT_ASSERT_EQUAL(bytes({0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0, 0,
                                    1, 0, 0, 0, 0}),
                             enc.data());
        XdrDecoder dec(enc.data());
        CPPUNIT_ASSERT(!dec.getOptionalString(10));
        CPPUNIT_ASSERT_EQUAL(std::string("hi"), *dec.getOptionalString(10));
        CPPUNIT_ASSERT_EQUAL(std::string(), *dec.getOptionalString(10));
        dec.finish();
        assertMalformed(bytes({0, 0, 0, 7}), [](XdrDecoder &d) { d.getOptionalString(10); });
    }

    void testFixedOpaque()
    {
        XdrEncoder enc;
        enc.putFixedOpaque("abc");
        CPPUNIT_ASSERT_EQUAL(bytes({'a', 'b', 'c', 0}), enc.data());
        XdrDecoder dec(enc.data());
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), dec.getFixedOpaque(3));
        assertMalformed(bytes({'a', 'b'}), [](XdrDecoder &d) { d.getFixedOpaque(3); });
    }

    void testCounts()
    {
        XdrEncoder enc;
        enc.putU32(3);
        enc.putU32(1);
        enc.putU32(2);
        enc.putU32(3);
        XdrDecoder dec(enc.data());
        CPPUNIT_ASSERT_EQUAL(3u, dec.getCount(3, 4));
        // Over the protocol maximum.
        assertMalformed(enc.data(), [](XdrDecoder &d) { d.getCount(2, 4); });
        // A count the remaining bytes cannot hold: refused before anything
        // is allocated.
        assertMalformed(bytes({0, 0, 0x40, 0}),
                        [](XdrDecoder &d) { d.getCount(vd::remote::RemoteDomainListMax, 24); });
    }

    void testTruncatedAndTrailing()
    {
        assertMalformed(bytes({0, 0, 1}), [](XdrDecoder &d) { d.getU32(); });
        assertMalformed(bytes({0, 0, 0, 0, 0, 0, 1}), [](XdrDecoder &d) { d.getU64(); });
        assertMalformed(bytes({0, 0, 0, 1, 0}), [](XdrDecoder &d) { d.getU32(); });
        XdrDecoder empty("");
        empty.finish();
    }

    void testNonZeroPadding()
    {
        assertMalformed(bytes({0, 0, 0, 1, 'a', 0, 1, 0}), [](XdrDecoder &d) { d.getString(10); });
    }

    void testFraming()
    {
        vd::rpc::MessageHeader h;
        h.prog = vd::remote::RemoteProgramNumber;
        h.vers = 1;
        h.proc = 66;
        h.type = vd::rpc::MessageType::Reply;
        h.serial = 7;
        h.status = vd::rpc::MessageStatus::Ok;
        std::string packet = vd::rpc::encodeMessage(h, bytes({0, 0, 0, 0}));
        CPPUNIT_ASSERT_EQUAL(size_t(32), packet.size());
        CPPUNIT_ASSERT_EQUAL(32u, vd::rpc::decodeLength(packet.substr(0, 4)));
        XdrDecoder dec(std::string_view(packet).substr(4));
        auto raw = vd::rpc::decodeHeader(dec);
        CPPUNIT_ASSERT_EQUAL(0x20008086u, raw.prog);
        CPPUNIT_ASSERT_EQUAL(66u, raw.proc);
        CPPUNIT_ASSERT_EQUAL(1u, raw.type);
        CPPUNIT_ASSERT_EQUAL(7u, raw.serial);
        CPPUNIT_ASSERT_EQUAL(0u, raw.status);
        // A packet must hold at least the length and the header, and at
        // most the client's limit.
        CPPUNIT_ASSERT_EQUAL(28u, vd::rpc::decodeLength(bytes({0, 0, 0, 28})));
        CPPUNIT_ASSERT_THROW(vd::rpc::decodeLength(bytes({0, 0, 0, 27})), vd::Error);
        CPPUNIT_ASSERT_EQUAL(vd::rpc::MessageMax,
                             vd::rpc::decodeLength(bytes({0x02, 0, 0, 0})));
        CPPUNIT_ASSERT_THROW(vd::rpc::decodeLength(bytes({0x02, 0, 0, 1})), vd::Error);
        CPPUNIT_ASSERT_THROW(vd::rpc::decodeLength(bytes({0xff, 0xff, 0xff, 0xff})), vd::Error);
        // Nothing larger than the limit leaves the server.
        CPPUNIT_ASSERT_THROW(vd::rpc::encodeMessage(h, std::string(vd::rpc::MessageMax, 'x')),
                             vd::Error);
    }

    void testErrorBody()
    {
        vd::Error err(VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'", VIR_FROM_QEMU);
        std::string body = vd::rpc::encodeErrorBody(err);
        // code, domain, message (flag + string), level, dom, str1-3, int1-2, net
        size_t message = 4 + 4 + vd::rpc::xdrPadded(std::string(err.what()).size());
        CPPUNIT_ASSERT_EQUAL(size_t(4 + 4 + message + 4 + 4 + 4 * 3 + 8 + 4), body.size());
        auto e = vd::rpc::decodeErrorBody(body);
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_NO_DOMAIN), e.code);
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_FROM_QEMU), e.domain);
        CPPUNIT_ASSERT_EQUAL(std::string("Domain not found: no domain with matching name 'x'"),
                             *e.message);
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_ERROR), e.level);
    }

    void testDomainAndNetwork()
    {
        vd::remote::WireDomain d;
        d.name = "web";
        for (size_t i = 0; i < 16; ++i)
            d.uuid[i] = static_cast<unsigned char>(i * 17);
        d.id = 42;
        XdrEncoder enc;
        vd::remote::putDomain(enc, d);
        CPPUNIT_ASSERT_EQUAL(size_t(8 + 16 + 4), enc.size());
        vd::remote::WireNetwork n{"pool", d.uuid};
        vd::remote::putNetwork(enc, n);
        XdrDecoder dec(enc.data());
        auto d2 = vd::remote::getDomain(dec);
        CPPUNIT_ASSERT_EQUAL(d.name, d2.name);
        CPPUNIT_ASSERT(d.uuid == d2.uuid);
        CPPUNIT_ASSERT_EQUAL(42, d2.id);
        auto n2 = vd::remote::getNetwork(dec);
        CPPUNIT_ASSERT_EQUAL(std::string("pool"), n2.name);
        CPPUNIT_ASSERT(n2.uuid == d.uuid);
        dec.finish();
    }

    void testCharArrays()
    {
        // rpcgen's `char` is a whole XDR int.
        XdrEncoder enc;
        vd::remote::putCharArrayFixed(enc, "x86_64", 32);
        CPPUNIT_ASSERT_EQUAL(size_t(128), enc.size());
        XdrDecoder dec(enc.data());
        CPPUNIT_ASSERT_EQUAL(int32_t('x'), dec.getI32());
        XdrEncoder var;
        vd::remote::putCharArrayVar(var, "ab", 10);
        CPPUNIT_ASSERT_EQUAL(bytes({0, 0, 0, 2, 0, 0, 0, 'a', 0, 0, 0, 'b'}), var.data());
    }

    void testApiNames()
    {
        CPPUNIT_ASSERT_EQUAL(std::string("virConnectOpen"), std::string(vd::remote::procedureApiName(1)));
        CPPUNIT_ASSERT_EQUAL(std::string("virDomainSuspend"),
                             std::string(vd::remote::procedureApiName(34)));
        CPPUNIT_ASSERT_EQUAL(std::string("virConnectListAllDomains"),
                             std::string(vd::remote::procedureApiName(273)));
        CPPUNIT_ASSERT(!vd::remote::procedureApiName(0));
        CPPUNIT_ASSERT(!vd::remote::procedureApiName(100000));
        // The table is sorted (binary search): every number up to the last
        // one either resolves or is a gap, and known ones resolve.
        for (uint32_t p : {9u, 14u, 212u, 316u, 350u, 374u})
            CPPUNIT_ASSERT(vd::remote::procedureApiName(p));
    }

    void testRandomGarbageNeverCrashes()
    {
        std::mt19937 rng(1234);
        for (int round = 0; round < 2000; ++round) {
            std::string data(rng() % 64, '\0');
            for (auto &c : data)
                c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 3);
            XdrDecoder dec(data);
            try {
                for (int i = 0; i < 8; ++i) {
                    switch (rng() % 6) {
                    case 0: dec.getU32(); break;
                    case 1: dec.getString(16); break;
                    case 2: dec.getOptionalString(16); break;
                    case 3: vd::remote::getDomain(dec); break;
                    case 4: dec.getCount(100, 4); break;
                    default: dec.getBool(); break;
                    }
                }
            } catch (const vd::Error &e) {
                CPPUNIT_ASSERT_EQUAL(VIR_ERR_RPC, e.code());
            }
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirXdrTest);
