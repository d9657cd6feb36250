// Ethernet MAC addresses: parse, format, classify, generate.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace vd {

struct MacAddr {
    std::array<unsigned char, 6> bytes{};

    // Accepts "52:54:00:12:34:56" (also with single hex digits per octet, as
    // libvirt does); returns nullopt for anything else.
    static std::optional<MacAddr> parse(std::string_view text);
    // Lowercase, colon separated, two digits per octet.
    std::string str() const;

    bool isMulticast() const { return bytes[0] & 0x01; }
    bool isZero() const
    {
        for (auto b : bytes)
            if (b)
                return false;
        return true;
    }
    bool operator==(const MacAddr &) const = default;
    auto operator<=>(const MacAddr &) const = default;
};

// QEMU's OUI 52:54:00 with three random bytes, as libvirt generates.
MacAddr generateQemuMac();

} // namespace vd
