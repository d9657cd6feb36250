// A small JSON value type for QMP and the runtime state files: null, bool,
// numbers (signed/unsigned 64-bit integers kept exact, doubles otherwise),
// strings, arrays and objects that keep their members in insertion order
// (QMP replies and our state files stay readable and diffable that way).
//
// Parsing is strict RFC 8259 (no comments, no trailing commas, no NaN) and
// throws vd::Error(VIR_ERR_INTERNAL_ERROR) naming the line, column and what
// was expected.  Serialization is compact and escapes everything JSON needs.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vd {

class JsonValue {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using Array = std::vector<JsonValue>;
    using Member = std::pair<std::string, JsonValue>;
    using Object = std::vector<Member>;

    // Scalars.
    JsonValue() noexcept = default; // null
    JsonValue(std::nullptr_t) noexcept {}
    JsonValue(bool b) noexcept : v_(b) {}
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    JsonValue(T n) noexcept
    {
        if constexpr (std::is_signed_v<T>)
            v_ = static_cast<int64_t>(n);
        else if (static_cast<uint64_t>(n) <= static_cast<uint64_t>(INT64_MAX))
            v_ = static_cast<int64_t>(n);
        else
            v_ = static_cast<uint64_t>(n);
    }
    JsonValue(double d) noexcept : v_(d) {}
    JsonValue(std::string s) noexcept : v_(std::move(s)) {}
    JsonValue(std::string_view s) : v_(std::string(s)) {}
    // Without this a string literal would silently become a bool.
    JsonValue(const char *s) : v_(std::string(s)) {}

    // Containers.
    static JsonValue array(std::initializer_list<JsonValue> items = {});
    static JsonValue array(Array items);
    // JsonValue::object({{"execute", "getfd"}, {"arguments", args}})
    static JsonValue object(std::initializer_list<Member> members = {});

    Type type() const noexcept;
    bool isNull() const noexcept { return std::holds_alternative<std::monostate>(v_); }
    bool isBool() const noexcept { return std::holds_alternative<bool>(v_); }
    bool isNumber() const noexcept { return isInteger() || std::holds_alternative<double>(v_); }
    // True for numbers written without fraction or exponent that fit 64 bits.
    bool isInteger() const noexcept
    {
        return std::holds_alternative<int64_t>(v_) || std::holds_alternative<uint64_t>(v_);
    }
    bool isString() const noexcept { return std::holds_alternative<std::string>(v_); }
    bool isArray() const noexcept { return std::holds_alternative<Array>(v_); }
    bool isObject() const noexcept { return std::holds_alternative<Object>(v_); }

    // Typed access; each throws vd::Error(VIR_ERR_INTERNAL_ERROR) on a type
    // mismatch or when an integer does not fit the requested type.
    bool asBool() const;
    int64_t asInt() const;
    uint64_t asUInt() const;
    double asDouble() const; // any number
    const std::string &asString() const;
    const Array &asArray() const;
    Array &asArray();
    const Object &asObject() const;
    Object &asObject();

    // Arrays.
    size_t size() const; // members of an object or items of an array
    const JsonValue &at(size_t index) const;
    JsonValue &append(JsonValue item);

    // Objects.  find() returns nullptr when the member is missing; get()
    // throws naming the key; set() replaces a member in place or appends it.
    const JsonValue *find(std::string_view key) const;
    JsonValue *find(std::string_view key);
    bool has(std::string_view key) const { return find(key) != nullptr; }
    const JsonValue &get(std::string_view key) const;
    JsonValue &set(std::string key, JsonValue value);
    bool remove(std::string_view key);

    // Compact serialization: no whitespace, members in insertion order.
    // Throws for NaN and infinities, which JSON cannot represent.
    std::string toString() const;
    void appendTo(std::string &out) const;

    // Parse exactly one JSON value (surrounding whitespace allowed).
    static JsonValue parse(std::string_view text);

    // Integers compare by value whatever their signedness; an integer never
    // equals a double; objects compare member by member in order.
    friend bool operator==(const JsonValue &a, const JsonValue &b);

private:
    std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Array, Object> v_;
};

// Append `s` to `out` as a quoted, escaped JSON string.
void jsonQuote(std::string &out, std::string_view s);

} // namespace vd
