// Unit tests for vd::JsonValue: parsing, serialization, escaping, errors.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cmath>
#include <limits>
#include <string>

#include "testutils.h"
#include "util/virerror.h"
#include "util/virjson.h"

using vd::JsonValue;

namespace {

// The error message of parsing `text`, or "" when it parses.
std::string parseError(const std::string &text)
{
    try {
        JsonValue::parse(text);
    } catch (const vd::Error &e) {
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
        return e.what();
    }
    return "";
}

std::string roundTrip(const std::string &text)
{
    return JsonValue::parse(text).toString();
}

} // namespace

class VirJsonTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirJsonTest);
    CPPUNIT_TEST(testScalars);
    CPPUNIT_TEST(testIntegers);
    CPPUNIT_TEST(testDoubles);
    CPPUNIT_TEST(testStringsAndEscapes);
    CPPUNIT_TEST(testUnicodeEscapes);
    CPPUNIT_TEST(testObjectsKeepOrder);
    CPPUNIT_TEST(testBuilders);
    CPPUNIT_TEST(testTypeErrors);
    CPPUNIT_TEST(testParseErrors);
    CPPUNIT_TEST(testDepthLimit);
    CPPUNIT_TEST(testQmpGreeting);
    CPPUNIT_TEST_SUITE_END();

public:
    void testScalars()
    {
        CPPUNIT_ASSERT(JsonValue::parse("null").isNull());
        CPPUNIT_ASSERT_EQUAL(true, JsonValue::parse(" true ").asBool());
        CPPUNIT_ASSERT_EQUAL(false, JsonValue::parse("\n\tfalse\r\n").asBool());
        CPPUNIT_ASSERT_EQUAL(std::string("null"), JsonValue().toString());
        CPPUNIT_ASSERT_EQUAL(std::string("true"), JsonValue(true).toString());
        CPPUNIT_ASSERT(JsonValue::parse("[]").isArray());
        CPPUNIT_ASSERT(JsonValue::parse("{}").isObject());
        CPPUNIT_ASSERT_EQUAL(std::string("[]"), roundTrip(" [ ] "));
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), roundTrip(" { } "));
        // A string literal must not turn into a bool.
        CPPUNIT_ASSERT(JsonValue("x").isString());
    }

    void testIntegers()
    {
        CPPUNIT_ASSERT_EQUAL(int64_t(0), JsonValue::parse("0").asInt());
        CPPUNIT_ASSERT_EQUAL(int64_t(-17), JsonValue::parse("-17").asInt());
        CPPUNIT_ASSERT_EQUAL(std::numeric_limits<int64_t>::min(),
                             JsonValue::parse("-9223372036854775808").asInt());
        CPPUNIT_ASSERT_EQUAL(std::numeric_limits<int64_t>::max(),
                             JsonValue::parse("9223372036854775807").asInt());
        JsonValue big = JsonValue::parse("18446744073709551615");
        CPPUNIT_ASSERT(big.isInteger());
        CPPUNIT_ASSERT_EQUAL(std::numeric_limits<uint64_t>::max(), big.asUInt());
        CPPUNIT_ASSERT_THROW(big.asInt(), vd::Error);
        CPPUNIT_ASSERT_THROW(JsonValue(-1).asUInt(), vd::Error);
        CPPUNIT_ASSERT_EQUAL(std::string("18446744073709551615"), big.toString());
        CPPUNIT_ASSERT_EQUAL(std::string("-9223372036854775808"),
                             JsonValue(std::numeric_limits<int64_t>::min()).toString());
        // Too big even for uint64: kept approximately, as a double.
        JsonValue huge = JsonValue::parse("123456789012345678901234567890");
        CPPUNIT_ASSERT(!huge.isInteger());
        CPPUNIT_ASSERT(huge.isNumber());
        // Unsigned values that fit are normalised, so equality is by value.
        CPPUNIT_ASSERT(JsonValue(5u) == JsonValue(int64_t(5)));
        CPPUNIT_ASSERT(!(JsonValue(5) == JsonValue(5.0)));
        CPPUNIT_ASSERT_EQUAL(5.0, JsonValue(5).asDouble());
    }

    void testDoubles()
    {
        CPPUNIT_ASSERT_EQUAL(1.5, JsonValue::parse("1.5").asDouble());
        CPPUNIT_ASSERT_EQUAL(-2.5e-3, JsonValue::parse("-2.5E-3").asDouble());
        CPPUNIT_ASSERT_EQUAL(100.0, JsonValue::parse("1e2").asDouble());
        CPPUNIT_ASSERT(!JsonValue::parse("1e2").isInteger());
        CPPUNIT_ASSERT_THROW(JsonValue::parse("1.0").asInt(), vd::Error);
        // Serialised doubles stay doubles and round-trip exactly.
        CPPUNIT_ASSERT_EQUAL(std::string("1.0"), JsonValue(1.0).toString());
        CPPUNIT_ASSERT_EQUAL(std::string("0.1"), JsonValue(0.1).toString());
        double third = 1.0 / 3.0;
        CPPUNIT_ASSERT_EQUAL(third, JsonValue::parse(JsonValue(third).toString()).asDouble());
        CPPUNIT_ASSERT(!JsonValue::parse(JsonValue(1e300).toString()).isInteger());
        CPPUNIT_ASSERT_THROW(JsonValue(std::nan("")).toString(), vd::Error);
        CPPUNIT_ASSERT_THROW(JsonValue(HUGE_VAL).toString(), vd::Error);
    }

    void testStringsAndEscapes()
    {
        CPPUNIT_ASSERT_EQUAL(std::string("a\"b\\c/d\b\f\n\r\t"),
                             JsonValue::parse(R"("a\"b\\c\/d\b\f\n\r\t")").asString());
        std::string all;
        for (int c = 1; c < 0x20; ++c)
            all.push_back(static_cast<char>(c));
        all += "\x7f\"\\/é";
        std::string text = JsonValue(all).toString();
        // No raw control character survives serialisation.
        for (char c : text)
            CPPUNIT_ASSERT(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        CPPUNIT_ASSERT(text.find("\\u0001") != std::string::npos);
        CPPUNIT_ASSERT(text.find("\\u001f") != std::string::npos);
        CPPUNIT_ASSERT(text.find("\\u007f") != std::string::npos);
        CPPUNIT_ASSERT(text.find("\\n") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(all, JsonValue::parse(text).asString());
        // NUL bytes inside strings survive both ways.
        std::string withNul("a\0b", 3);
        CPPUNIT_ASSERT_EQUAL(std::string("\"a\\u0000b\""), JsonValue(withNul).toString());
        CPPUNIT_ASSERT_EQUAL(withNul, JsonValue::parse("\"a\\u0000b\"").asString());
    }

    void testUnicodeEscapes()
    {
        CPPUNIT_ASSERT_EQUAL(std::string("\xc3\xa9"), JsonValue::parse(R"("\u00e9")").asString());
        CPPUNIT_ASSERT_EQUAL(std::string("\xe2\x82\xac"), JsonValue::parse(R"("\u20AC")").asString());
        // U+1F600 as a surrogate pair.
        CPPUNIT_ASSERT_EQUAL(std::string("\xf0\x9f\x98\x80"),
                             JsonValue::parse(R"("\ud83d\ude00")").asString());
        CPPUNIT_ASSERT(parseError(R"("\ud83d")").find("surrogate") != std::string::npos);
        CPPUNIT_ASSERT(parseError(R"("\ude00")").find("surrogate") != std::string::npos);
        CPPUNIT_ASSERT(parseError(R"("\ud83d\u0041")").find("surrogate") != std::string::npos);
        CPPUNIT_ASSERT(!parseError(R"("\u12g4")").empty());
        CPPUNIT_ASSERT(!parseError(R"("\u12")").empty());
    }

    void testObjectsKeepOrder()
    {
        std::string text = R"({"z":1,"a":[true,null,"s"],"m":{"x":-1.5}})";
        JsonValue v = JsonValue::parse(text);
        CPPUNIT_ASSERT_EQUAL(text, v.toString());
        CPPUNIT_ASSERT_EQUAL(size_t(3), v.size());
        CPPUNIT_ASSERT_EQUAL(std::string("z"), v.asObject()[0].first);
        CPPUNIT_ASSERT_EQUAL(size_t(3), v.get("a").size());
        CPPUNIT_ASSERT(v.get("a").at(1).isNull());
        CPPUNIT_ASSERT_EQUAL(-1.5, v.get("m").get("x").asDouble());
        CPPUNIT_ASSERT(v.find("missing") == nullptr);
        CPPUNIT_ASSERT(v.has("m"));
        // set() replaces in place, keeping the member's position.
        v.set("z", "new");
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"z":"new","a":[true,null,"s"],"m":{"x":-1.5}})"),
                             v.toString());
        CPPUNIT_ASSERT(v.remove("a"));
        CPPUNIT_ASSERT(!v.remove("a"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"z":"new","m":{"x":-1.5}})"), v.toString());
        // Duplicate keys: the last value wins, at the first position.
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"k":2,"j":0})"), roundTrip(R"({"k":1,"j":0,"k":2})"));
    }

    void testBuilders()
    {
        JsonValue args = JsonValue::object({{"fdname", "tap0"}});
        JsonValue cmd = JsonValue::object({{"execute", "getfd"}, {"arguments", args}, {"id", 7}});
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"execute":"getfd","arguments":{"fdname":"tap0"},"id":7})"),
                             cmd.toString());
        JsonValue arr = JsonValue::array({1, "two", 3.5, false, JsonValue()});
        arr.append(JsonValue::array());
        CPPUNIT_ASSERT_EQUAL(std::string(R"([1,"two",3.5,false,null,[]])"), arr.toString());
        CPPUNIT_ASSERT(JsonValue::parse(cmd.toString()) == cmd);
        CPPUNIT_ASSERT(!(JsonValue::parse(R"({"a":1,"b":2})") == JsonValue::parse(R"({"b":2,"a":1})")));
    }

    void testTypeErrors()
    {
        JsonValue s("text");
        CPPUNIT_ASSERT_THROW(s.asInt(), vd::Error);
        CPPUNIT_ASSERT_THROW(s.asBool(), vd::Error);
        CPPUNIT_ASSERT_THROW(s.asObject(), vd::Error);
        CPPUNIT_ASSERT_THROW(s.get("x"), vd::Error);
        CPPUNIT_ASSERT_THROW(JsonValue(1).asString(), vd::Error);
        CPPUNIT_ASSERT_THROW(JsonValue::array().at(0), vd::Error);
        try {
            JsonValue::object().get("return");
            CPPUNIT_FAIL("expected an error");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
            CPPUNIT_ASSERT_EQUAL(std::string("internal error: JSON object has no member 'return'"),
                                 std::string(e.what()));
        }
    }

    void testParseErrors()
    {
        const char *bad[] = {
            "", "   ", "nul", "tru", "True", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}",
            "{a:1}", "{'a':1}", "\"unterminated", "\"tab\there\"", "\"\\x\"", "01", "-",
            "1.", ".5", "1e", "+1", "NaN", "Infinity", "[1]x", "{} {}", "[", "{\"a\":",
            "/* c */ 1", "1e999",
        };
        for (const char *text : bad)
            CPPUNIT_ASSERT_MESSAGE(std::string("accepted: ") + text, !parseError(text).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("internal error: cannot parse JSON at line 2 column 4: "
                                         "expected ',' or ']' in array"),
                             parseError("[1,\n 2 3]"));
        CPPUNIT_ASSERT_EQUAL(std::string("internal error: cannot parse JSON at line 1 column 4: "
                                         "unexpected data after the JSON value"),
                             parseError("{} x"));
    }

    void testDepthLimit()
    {
        std::string ok(500, '[');
        ok += std::string(500, ']');
        CPPUNIT_ASSERT(JsonValue::parse(ok).isArray());
        std::string deep(100000, '[');
        CPPUNIT_ASSERT(parseError(deep).find("nesting too deep") != std::string::npos);
    }

    void testQmpGreeting()
    {
        // Real QEMU 7.2 greeting.
        JsonValue g = JsonValue::parse(
            R"({"QMP": {"version": {"qemu": {"micro": 19, "minor": 2, "major": 7}, )"
            R"("package": "Debian 1:7.2+dfsg-7+deb12u6"}, "capabilities": ["oob"]}})");
        CPPUNIT_ASSERT_EQUAL(int64_t(7), g.get("QMP").get("version").get("qemu").get("major").asInt());
        CPPUNIT_ASSERT_EQUAL(std::string("oob"), g.get("QMP").get("capabilities").at(0).asString());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirJsonTest);
