#include <config.h>

#include "conf/domain_conf.h"

#include <cstdio>
#include <random>

namespace vd::conf {

namespace {
// A small enum <-> string table; index order follows the enum.
template <typename E, size_t N>
struct EnumTable {
    std::array<std::string_view, N> names;

    std::string_view name(E v) const { return names.at(static_cast<size_t>(v)); }
    std::optional<E> value(std::string_view s) const
    {
        for (size_t i = 0; i < N; ++i)
            if (names[i] == s)
                return static_cast<E>(i);
        return std::nullopt;
    }
};

constexpr EnumTable<VirtType, 2> virtTypes{{"qemu", "kvm"}};
constexpr EnumTable<LifecycleAction, 4> lifecycleActions{
    {"destroy", "restart", "preserve", "rename-restart"}};
constexpr EnumTable<BootDevice, 4> bootDevices{{"hd", "cdrom", "network", "fd"}};
constexpr EnumTable<MacvlanMode, 5> macvlanModes{
    {"vepa", "bridge", "private", "passthrough", "source"}};
constexpr EnumTable<NetDef::DriverName, 3> driverNames{{"", "qemu", "vhost"}};
constexpr EnumTable<NetDef::LinkState, 3> linkStates{{"", "up", "down"}};
} // namespace

std::string_view toString(VirtType v) { return virtTypes.name(v); }
std::optional<VirtType> virtTypeFromString(std::string_view s) { return virtTypes.value(s); }
std::string_view toString(LifecycleAction v) { return lifecycleActions.name(v); }
std::optional<LifecycleAction> lifecycleActionFromString(std::string_view s)
{
    return lifecycleActions.value(s);
}
std::string_view toString(BootDevice v) { return bootDevices.name(v); }
std::optional<BootDevice> bootDeviceFromString(std::string_view s) { return bootDevices.value(s); }
std::string_view toString(MacvlanMode v) { return macvlanModes.name(v); }
std::optional<MacvlanMode> macvlanModeFromString(std::string_view s)
{
    return macvlanModes.value(s);
}
std::string_view toString(NetDef::DriverName v) { return driverNames.name(v); }
std::string_view toString(NetDef::LinkState v) { return linkStates.name(v); }

std::string uuidToString(const std::array<unsigned char, 16> &u)
{
    char buf[37];
    std::snprintf(buf, sizeof(buf),
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                  u[12], u[13], u[14], u[15]);
    return buf;
}

// Accepts the canonical form and, like libvirt, hex digits with '-' or ' '
// separators anywhere, as long as there are exactly 32 digits.
std::optional<std::array<unsigned char, 16>> uuidFromString(std::string_view s)
{
    std::array<unsigned char, 16> out{};
    size_t digits = 0;
    for (char c : s) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else if (c == '-' || c == ' ')
            continue;
        else
            return std::nullopt;
        if (digits >= 32)
            return std::nullopt;
        out[digits / 2] = static_cast<unsigned char>(out[digits / 2] | (digits % 2 ? v : v << 4));
        ++digits;
    }
    if (digits != 32)
        return std::nullopt;
    return out;
}

std::array<unsigned char, 16> generateUuid()
{
    std::random_device rd;
    std::array<unsigned char, 16> u{};
    for (auto &b : u)
        b = static_cast<unsigned char>(rd() & 0xff);
    u[6] = static_cast<unsigned char>((u[6] & 0x0f) | 0x40); // version 4
    u[8] = static_cast<unsigned char>((u[8] & 0x3f) | 0x80); // RFC 4122 variant
    return u;
}

} // namespace vd::conf
