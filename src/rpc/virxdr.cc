// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "rpc/virxdr.h"

#include "util/virerror.h"

namespace vd::rpc {

namespace {

[[noreturn]] void malformed(const std::string &what)
{
    throw Error(VIR_ERR_RPC, strprintf(_("malformed XDR data: %s"), what.c_str()),
                VIR_FROM_RPC);
}

} // namespace

void XdrEncoder::putU32(uint32_t v)
{
    char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                 static_cast<char>(v >> 8), static_cast<char>(v)};
    buf_.append(b, 4);
}

void XdrEncoder::putU64(uint64_t v)
{
    putU32(static_cast<uint32_t>(v >> 32));
    putU32(static_cast<uint32_t>(v));
}

void XdrEncoder::pad(size_t len)
{
    buf_.append(xdrPadded(len) - len, '\0');
}

void XdrEncoder::putFixedOpaque(std::string_view data)
{
    buf_.append(data);
    pad(data.size());
}

void XdrEncoder::putString(std::string_view s, uint32_t max)
{
    if (s.size() > max)
        throw Error(VIR_ERR_RPC,
                    strprintf(_("string of %zu bytes exceeds the protocol limit of %u"),
                              s.size(), max),
                    VIR_FROM_RPC);
    putU32(static_cast<uint32_t>(s.size()));
    putFixedOpaque(s);
}

void XdrEncoder::putOptionalString(const std::optional<std::string> &s, uint32_t max)
{
    putBool(s.has_value());
    if (s)
        putString(*s, max);
}

void XdrEncoder::patchU32(size_t at, uint32_t v)
{
    buf_[at] = static_cast<char>(v >> 24);
    buf_[at + 1] = static_cast<char>(v >> 16);
    buf_[at + 2] = static_cast<char>(v >> 8);
    buf_[at + 3] = static_cast<char>(v);
}

std::string_view XdrDecoder::take(size_t len)
{
    if (len > remaining())
        malformed(strprintf(_("need %zu bytes at offset %zu, only %zu left"), len, pos_,
                            remaining()));
    std::string_view out = data_.substr(pos_, len);
    pos_ += len;
    return out;
}

void XdrDecoder::skipPad(size_t len)
{
    std::string_view padding = take(xdrPadded(len) - len);
    for (char c : padding)
        if (c != '\0')
            malformed(_("non-zero padding"));
}

uint32_t XdrDecoder::getU32()
{
    std::string_view b = take(4);
    auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[i])); };
    return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

uint64_t XdrDecoder::getU64()
{
    uint64_t hi = getU32();
    return (hi << 32) | getU32();
}

bool XdrDecoder::getBool()
{
    uint32_t v = getU32();
    if (v > 1)
        malformed(strprintf(_("boolean value %u"), v));
    return v == 1;
}

std::string XdrDecoder::getFixedOpaque(size_t len)
{
    std::string out(take(len));
    skipPad(len);
    return out;
}

std::string XdrDecoder::getString(uint32_t max)
{
    uint32_t len = getU32();
    if (len > max)
        malformed(strprintf(_("length %u exceeds the limit of %u"), len, max));
    return getFixedOpaque(len);
}

std::optional<std::string> XdrDecoder::getOptionalString(uint32_t max)
{
    if (!getBool())
        return std::nullopt;
    return getString(max);
}

uint32_t XdrDecoder::getCount(uint32_t max, size_t minElementSize)
{
    uint32_t n = getU32();
    if (n > max)
        malformed(strprintf(_("array of %u elements exceeds the limit of %u"), n, max));
    if (minElementSize && n > remaining() / minElementSize)
        malformed(strprintf(_("array of %u elements is longer than the message"), n));
    return n;
}

void XdrDecoder::finish() const
{
    if (remaining() != 0)
        malformed(strprintf(_("%zu unexpected trailing bytes"), remaining()));
}

} // namespace vd::rpc
