#include <config.h>

#include "util/virjson.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "util/virerror.h"

namespace vd {

namespace {

[[noreturn]] void typeError(const char *expected)
{
    raiseInternal(strprintf(_("JSON value is not %s"), expected));
}

} // namespace

JsonValue JsonValue::array(std::initializer_list<JsonValue> items)
{
    JsonValue v;
    v.v_ = Array(items);
    return v;
}

JsonValue JsonValue::array(Array items)
{
    JsonValue v;
    v.v_ = std::move(items);
    return v;
}

JsonValue JsonValue::object(std::initializer_list<Member> members)
{
    JsonValue v;
    v.v_ = Object();
    for (const auto &m : members)
        v.set(m.first, m.second);
    return v;
}

JsonValue::Type JsonValue::type() const noexcept
{
    switch (v_.index()) {
    case 0:
        return Type::Null;
    case 1:
        return Type::Bool;
    case 2:
    case 3:
    case 4:
        return Type::Number;
    case 5:
        return Type::String;
    case 6:
        return Type::Array;
    default:
        return Type::Object;
    }
}

bool JsonValue::asBool() const
{
    if (const bool *b = std::get_if<bool>(&v_))
        return *b;
    typeError(_("a boolean"));
}

int64_t JsonValue::asInt() const
{
    if (const int64_t *i = std::get_if<int64_t>(&v_))
        return *i;
    if (std::holds_alternative<uint64_t>(v_))
        raiseInternal(_("JSON number does not fit a signed 64-bit integer"));
    typeError(_("an integer"));
}

uint64_t JsonValue::asUInt() const
{
    if (const uint64_t *u = std::get_if<uint64_t>(&v_))
        return *u;
    if (const int64_t *i = std::get_if<int64_t>(&v_)) {
        if (*i < 0)
            raiseInternal(_("JSON number is negative where an unsigned integer was expected"));
        return static_cast<uint64_t>(*i);
    }
    typeError(_("an integer"));
}

double JsonValue::asDouble() const
{
    if (const double *d = std::get_if<double>(&v_))
        return *d;
    if (const int64_t *i = std::get_if<int64_t>(&v_))
        return static_cast<double>(*i);
    if (const uint64_t *u = std::get_if<uint64_t>(&v_))
        return static_cast<double>(*u);
    typeError(_("a number"));
}

const std::string &JsonValue::asString() const
{
    if (const std::string *s = std::get_if<std::string>(&v_))
        return *s;
    typeError(_("a string"));
}

const JsonValue::Array &JsonValue::asArray() const
{
    if (const Array *a = std::get_if<Array>(&v_))
        return *a;
    typeError(_("an array"));
}

JsonValue::Array &JsonValue::asArray()
{
    if (Array *a = std::get_if<Array>(&v_))
        return *a;
    typeError(_("an array"));
}

const JsonValue::Object &JsonValue::asObject() const
{
    if (const Object *o = std::get_if<Object>(&v_))
        return *o;
    typeError(_("an object"));
}

JsonValue::Object &JsonValue::asObject()
{
    if (Object *o = std::get_if<Object>(&v_))
        return *o;
    typeError(_("an object"));
}

size_t JsonValue::size() const
{
    if (const Array *a = std::get_if<Array>(&v_))
        return a->size();
    if (const Object *o = std::get_if<Object>(&v_))
        return o->size();
    typeError(_("an array or object"));
}

const JsonValue &JsonValue::at(size_t index) const
{
    const Array &a = asArray();
    if (index >= a.size())
        raiseInternal(strprintf(_("JSON array index %zu out of range (size %zu)"),
                                index, a.size()));
    return a[index];
}

JsonValue &JsonValue::append(JsonValue item)
{
    Array &a = asArray();
    a.push_back(std::move(item));
    return a.back();
}

const JsonValue *JsonValue::find(std::string_view key) const
{
    for (const auto &m : asObject())
        if (m.first == key)
            return &m.second;
    return nullptr;
}

JsonValue *JsonValue::find(std::string_view key)
{
    for (auto &m : asObject())
        if (m.first == key)
            return &m.second;
    return nullptr;
}

const JsonValue &JsonValue::get(std::string_view key) const
{
    if (const JsonValue *v = find(key))
        return *v;
    std::string k(key);
    raiseInternal(strprintf(_("JSON object has no member '%s'"), k.c_str()));
}

JsonValue &JsonValue::set(std::string key, JsonValue value)
{
    if (JsonValue *existing = find(key)) {
        *existing = std::move(value);
        return *existing;
    }
    Object &o = asObject();
    o.emplace_back(std::move(key), std::move(value));
    return o.back().second;
}

bool JsonValue::remove(std::string_view key)
{
    Object &o = asObject();
    for (auto it = o.begin(); it != o.end(); ++it)
        if (it->first == key) {
            o.erase(it);
            return true;
        }
    return false;
}

bool operator==(const JsonValue &a, const JsonValue &b)
{
    if (a.isInteger() && b.isInteger()) {
        const int64_t *ai = std::get_if<int64_t>(&a.v_);
        const int64_t *bi = std::get_if<int64_t>(&b.v_);
        if (ai && bi)
            return *ai == *bi;
        if (!ai && !bi)
            return std::get<uint64_t>(a.v_) == std::get<uint64_t>(b.v_);
        // One signed, one above INT64_MAX: integers are normalised so that
        // uint64_t only holds values a signed one cannot.
        return false;
    }
    return a.v_ == b.v_;
}

// ---- serialization ------------------------------------------------------

void jsonQuote(std::string &out, std::string_view s)
{
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            // Other control characters must be escaped; DEL is escaped too
            // so logs and terminals never see it raw.  Bytes >= 0x80 are
            // passed through: we carry UTF-8 unchanged.
            if (c < 0x20 || c == 0x7f) {
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0xf]);
            } else {
                out.push_back(ch);
            }
        }
    }
    out.push_back('"');
}

void JsonValue::appendTo(std::string &out) const
{
    char buf[64];
    switch (v_.index()) {
    case 0:
        out += "null";
        break;
    case 1:
        out += std::get<bool>(v_) ? "true" : "false";
        break;
    case 2: {
        auto r = std::to_chars(buf, buf + sizeof(buf), std::get<int64_t>(v_));
        out.append(buf, r.ptr);
        break;
    }
    case 3: {
        auto r = std::to_chars(buf, buf + sizeof(buf), std::get<uint64_t>(v_));
        out.append(buf, r.ptr);
        break;
    }
    case 4: {
        double d = std::get<double>(v_);
        if (!std::isfinite(d))
            raiseInternal(_("cannot represent a non-finite number in JSON"));
        // Shortest text that reads back as the same double.
        auto r = std::to_chars(buf, buf + sizeof(buf), d);
        std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
        out += text;
        // Keep it a double when read back: "1" would become an integer.
        if (text.find_first_of(".eE") == std::string_view::npos)
            out += ".0";
        break;
    }
    case 5:
        jsonQuote(out, std::get<std::string>(v_));
        break;
    case 6: {
        out.push_back('[');
        bool first = true;
        for (const auto &item : std::get<Array>(v_)) {
            if (!first)
                out.push_back(',');
            first = false;
            item.appendTo(out);
        }
        out.push_back(']');
        break;
    }
    default: {
        out.push_back('{');
        bool first = true;
        for (const auto &m : std::get<Object>(v_)) {
            if (!first)
                out.push_back(',');
            first = false;
            jsonQuote(out, m.first);
            out.push_back(':');
            m.second.appendTo(out);
        }
        out.push_back('}');
        break;
    }
    }
}

std::string JsonValue::toString() const
{
    std::string out;
    appendTo(out);
    return out;
}

// ---- parsing ------------------------------------------------------------

namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    JsonValue parseDocument()
    {
        skipSpace();
        JsonValue v = parseValue(0);
        skipSpace();
        if (pos_ != text_.size())
            fail(_("unexpected data after the JSON value"));
        return v;
    }

private:
    // Deep enough for any QMP reply; bounded so hostile input cannot
    // exhaust the stack.
    static constexpr unsigned maxDepth = 512;

    std::string_view text_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string &what) const
    {
        unsigned line = 1, column = 1;
        for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        raiseInternal(strprintf(_("cannot parse JSON at line %u column %u: %s"),
                                line, column, what.c_str()));
    }

    bool atEnd() const { return pos_ >= text_.size(); }
    char peek() const { return atEnd() ? '\0' : text_[pos_]; }

    void skipSpace()
    {
        while (!atEnd()) {
            char c = text_[pos_];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                break;
            ++pos_;
        }
    }

    void expectLiteral(std::string_view word)
    {
        if (text_.substr(pos_, word.size()) != word)
            fail(_("invalid literal"));
        pos_ += word.size();
    }

    JsonValue parseValue(unsigned depth)
    {
        if (depth > maxDepth)
            fail(_("nesting too deep"));
        if (atEnd())
            fail(_("unexpected end of input"));
        switch (peek()) {
        case '{':
            return parseObject(depth);
        case '[':
            return parseArray(depth);
        case '"':
            return JsonValue(parseString());
        case 't':
            expectLiteral("true");
            return JsonValue(true);
        case 'f':
            expectLiteral("false");
            return JsonValue(false);
        case 'n':
            expectLiteral("null");
            return JsonValue();
        default:
            if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
                return parseNumber();
            fail(_("unexpected character"));
        }
    }

    JsonValue parseObject(unsigned depth)
    {
        ++pos_; // '{'
        JsonValue obj = JsonValue::object();
        skipSpace();
        if (peek() == '}') {
            ++pos_;
            return obj;
        }
        for (;;) {
            skipSpace();
            if (peek() != '"')
                fail(_("expected a string as object key"));
            std::string key = parseString();
            skipSpace();
            if (peek() != ':')
                fail(_("expected ':' after object key"));
            ++pos_;
            skipSpace();
            obj.set(std::move(key), parseValue(depth + 1));
            skipSpace();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                return obj;
            }
            fail(_("expected ',' or '}' in object"));
        }
    }

    JsonValue parseArray(unsigned depth)
    {
        ++pos_; // '['
        JsonValue arr = JsonValue::array();
        skipSpace();
        if (peek() == ']') {
            ++pos_;
            return arr;
        }
        for (;;) {
            skipSpace();
            arr.append(parseValue(depth + 1));
            skipSpace();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                return arr;
            }
            fail(_("expected ',' or ']' in array"));
        }
    }

    unsigned parseHex4()
    {
        if (text_.size() - pos_ < 4)
            fail(_("truncated \\u escape"));
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = text_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail(_("invalid \\u escape"));
        }
        return v;
    }

    static void appendUtf8(std::string &out, unsigned cp)
    {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }

    std::string parseString()
    {
        ++pos_; // opening quote
        std::string out;
        for (;;) {
            if (atEnd())
                fail(_("unterminated string"));
            char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                fail(_("control character in string"));
            if (c != '\\') {
                out.push_back(c);
                ++pos_;
                continue;
            }
            ++pos_;
            if (atEnd())
                fail(_("unterminated string"));
            char e = text_[pos_++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out.push_back(e);
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                unsigned cp = parseHex4();
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    fail(_("unpaired low surrogate in \\u escape"));
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (text_.substr(pos_, 2) != "\\u")
                        fail(_("unpaired high surrogate in \\u escape"));
                    pos_ += 2;
                    unsigned low = parseHex4();
                    if (low < 0xdc00 || low > 0xdfff)
                        fail(_("unpaired high surrogate in \\u escape"));
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
                appendUtf8(out, cp);
                break;
            }
            default:
                --pos_;
                fail(_("invalid escape in string"));
            }
        }
    }

    static bool isDigit(char c) { return c >= '0' && c <= '9'; }

    JsonValue parseNumber()
    {
        size_t start = pos_;
        bool integral = true;
        if (peek() == '-')
            ++pos_;
        if (peek() == '0') {
            ++pos_;
            if (isDigit(peek()))
                fail(_("leading zero in number"));
        } else if (isDigit(peek())) {
            while (isDigit(peek()))
                ++pos_;
        } else {
            fail(_("expected a digit"));
        }
        if (peek() == '.') {
            integral = false;
            ++pos_;
            if (!isDigit(peek()))
                fail(_("expected a digit after '.'"));
            while (isDigit(peek()))
                ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            ++pos_;
            if (peek() == '+' || peek() == '-')
                ++pos_;
            if (!isDigit(peek()))
                fail(_("expected a digit in exponent"));
            while (isDigit(peek()))
                ++pos_;
        }
        const char *first = text_.data() + start;
        const char *last = text_.data() + pos_;
        if (integral) {
            int64_t i;
            auto r = std::from_chars(first, last, i);
            if (r.ec == std::errc() && r.ptr == last)
                return JsonValue(i);
            uint64_t u;
            r = std::from_chars(first, last, u);
            if (r.ec == std::errc() && r.ptr == last)
                return JsonValue(u);
            // Too big for 64 bits: keep it as an approximate double.
        }
        double d;
        auto r = std::from_chars(first, last, d);
        if (r.ptr != last || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range))
            fail(_("invalid number"));
        if (r.ec == std::errc::result_out_of_range) {
            pos_ = start;
            fail(_("number out of range"));
        }
        return JsonValue(d);
    }
};

} // namespace

JsonValue JsonValue::parse(std::string_view text)
{
    return Parser(text).parseDocument();
}

} // namespace vd
