// SPDX-License-Identifier: LGPL-2.1-or-later
// XDR (RFC 4506) encoding and decoding for libvirt's remote protocol.
//
// Everything is big-endian and padded to 4 bytes.  The decoder never trusts
// a length it reads: every count is checked against the protocol's maximum
// and against the bytes actually left before anything is allocated, so a
// malformed or hostile packet ends in a vd::Error (VIR_ERR_RPC), never in a
// huge allocation or a read past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vd::rpc {

class XdrEncoder {
public:
    void putU32(uint32_t v);
    void putI32(int32_t v) { putU32(static_cast<uint32_t>(v)); }
    void putU64(uint64_t v);
    void putI64(int64_t v) { putU64(static_cast<uint64_t>(v)); }
    void putBool(bool v) { putU32(v ? 1 : 0); }
    // Fixed-length opaque: exactly data.size() bytes plus padding.
    void putFixedOpaque(std::string_view data);
    // Variable-length opaque or string: length, bytes, padding.  `max` is
    // the protocol's bound; exceeding it is a programming or data error.
    void putString(std::string_view s, uint32_t max);
    // An optional string (XDR pointer): 0, or 1 followed by the string.
    void putOptionalString(const std::optional<std::string> &s, uint32_t max);

    const std::string &data() const noexcept { return buf_; }
    std::string take() noexcept { return std::move(buf_); }
    size_t size() const noexcept { return buf_.size(); }
    // Overwrite a u32 written earlier at byte offset `at` (for a length
    // prefix known only at the end).
    void patchU32(size_t at, uint32_t v);

private:
    void pad(size_t len);
    std::string buf_;
};

class XdrDecoder {
public:
    explicit XdrDecoder(std::string_view data) : data_(data) {}

    uint32_t getU32();
    int32_t getI32() { return static_cast<int32_t>(getU32()); }
    uint64_t getU64();
    int64_t getI64() { return static_cast<int64_t>(getU64()); }
    // XDR bool: only 0 and 1 are valid.
    bool getBool();
    std::string getFixedOpaque(size_t len);
    // A string or variable opaque of at most `max` bytes.
    std::string getString(uint32_t max);
    std::optional<std::string> getOptionalString(uint32_t max);
    // An element count for an array of at most `max` elements, each taking
    // at least `minElementSize` bytes on the wire (a bound against lying
    // counts).
    uint32_t getCount(uint32_t max, size_t minElementSize = 4);

    size_t remaining() const noexcept { return data_.size() - pos_; }
    size_t position() const noexcept { return pos_; }
    // Trailing bytes after the last field are a protocol error too.
    void finish() const;

private:
    std::string_view take(size_t len);
    void skipPad(size_t len);
    std::string_view data_;
    size_t pos_ = 0;
};

// XDR sizes are multiples of 4.
constexpr size_t xdrPadded(size_t len) { return (len + 3) & ~static_cast<size_t>(3); }

} // namespace vd::rpc
