#include <config.h>

#include "util/virmacaddr.h"

#include <cstdio>
#include <random>

namespace vd {

static int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text)
{
    MacAddr mac;
    size_t pos = 0;
    for (size_t i = 0; i < 6; ++i) {
        int value = 0;
        size_t digits = 0;
        while (pos < text.size() && digits < 2 && hexValue(text[pos]) >= 0) {
            value = value * 16 + hexValue(text[pos]);
            ++pos;
            ++digits;
        }
        if (digits == 0)
            return std::nullopt;
        mac.bytes[i] = static_cast<unsigned char>(value);
        if (i < 5) {
            if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-'))
                return std::nullopt;
            ++pos;
        }
    }
    if (pos != text.size())
        return std::nullopt;
    return mac;
}

std::string MacAddr::str() const
{
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1],
                  bytes[2], bytes[3], bytes[4], bytes[5]);
    return buf;
}

MacAddr generateQemuMac()
{
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> dist(0, 255);
    MacAddr mac;
    mac.bytes = {0x52, 0x54, 0x00, static_cast<unsigned char>(dist(rng)),
                 static_cast<unsigned char>(dist(rng)), static_cast<unsigned char>(dist(rng))};
    return mac;
}

} // namespace vd
