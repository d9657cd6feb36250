// The domain model: the subset of libvirt's domain XML that virt-direct
// understands, centred on <interface type='direct'>.  Parsing and formatting
// live in domain_xml.{h,cc}; semantic validation in domain_validate.{h,cc}.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/virmacaddr.h"
#include "util/virnetdevmacvlanmode.h"

namespace vd::conf {

enum class VirtType { Qemu, Kvm };

enum class LifecycleAction { Destroy, Restart, Preserve, RenameRestart };

enum class BootDevice { Hd, Cdrom, Network, Fd };

// A PCI address as in <address type='pci' domain= bus= slot= function=/>.
struct PciAddress {
    unsigned domain = 0;
    unsigned bus = 0;
    unsigned slot = 0;
    unsigned function = 0;
    bool multifunction = false;
    bool operator==(const PciAddress &) const = default;
};

// What every device carries: alias, address, boot order.
struct DeviceInfo {
    std::string alias;                 // <alias name=.../>; "ua-*" is user-given
    std::optional<PciAddress> pci;     // assigned by the QEMU layer when absent
    std::optional<unsigned> bootIndex; // <boot order=.../>
};

struct DiskDef {
    enum class Type { File, Block };
    enum class Device { Disk, Cdrom };
    enum class Bus { Virtio, Sata, Ide };
    enum class Format { Default, Raw, Qcow2 };

    Type type = Type::File;
    Device device = Device::Disk;
    std::string driverName; // "qemu" or empty
    Format format = Format::Default;
    std::string source; // file= or dev=; empty for an empty cdrom
    std::string targetDev;
    Bus bus = Bus::Virtio;
    bool readonly = false;
    DeviceInfo info;
};

// <serial> and <console>.
struct ChrDef {
    enum class Kind { Serial, Console };
    enum class Type { Pty, File, Null };

    Kind kind = Kind::Serial;
    Type type = Type::Pty;
    std::string path;            // <source path=.../> for file (and live pty)
    std::optional<unsigned> port; // <target port=.../>
    std::string targetType;       // "isa-serial" / "serial"
    DeviceInfo info;
};

struct ControllerDef {
    enum class Model { PciRoot, PciBridge };
    Model model = Model::PciRoot;
    unsigned index = 0;
    std::optional<unsigned> chassisNr; // pci-bridge <target chassisNr=.../>
    DeviceInfo info;
};

using vd::MacvlanMode;

struct NetDef {
    enum class DriverName { Default, Qemu, Vhost };
    enum class LinkState { Default, Up, Down };

    MacAddr mac;
    bool macGenerated = false; // true when define made it up
    std::string sourceDev;     // <source dev=.../>
    MacvlanMode mode = MacvlanMode::Vepa;
    std::string model;  // <model type=.../>: virtio, e1000, rtl8139, ...
    std::string ifname; // <target dev=.../>; empty = allocate macvtapN
    DriverName driverName = DriverName::Default;
    unsigned queues = 0; // 0 = not set
    unsigned mtu = 0;    // 0 = not set
    LinkState linkState = LinkState::Default;
    std::optional<bool> trustGuestRxFilters;
    DeviceInfo info;

    // Live-only state, formatted only in live XML.
    int ifindex = 0;
};

struct OsDef {
    std::string type = "hvm";
    std::string arch;    // e.g. x86_64
    std::string machine; // e.g. pc, pc-i440fx-7.2, q35
    std::string kernel, initrd, cmdline;
    std::vector<BootDevice> bootDevs;
};

struct DomainDef {
    VirtType virtType = VirtType::Qemu;
    int id = -1; // live only
    std::string name;
    std::array<unsigned char, 16> uuid{};
    // The XML had no <uuid>: define keeps the UUID of an existing definition.
    bool uuidGenerated = false;
    std::string title;
    std::string description;
    unsigned long long memoryKiB = 0;
    unsigned long long currentMemoryKiB = 0; // 0 = same as memory
    unsigned vcpus = 1;
    OsDef os;
    LifecycleAction onPoweroff = LifecycleAction::Destroy;
    LifecycleAction onReboot = LifecycleAction::Restart;
    LifecycleAction onCrash = LifecycleAction::Destroy;

    std::string emulator;
    std::vector<DiskDef> disks;
    std::vector<ControllerDef> controllers;
    std::vector<NetDef> nets;
    std::vector<ChrDef> serials;
    std::vector<ChrDef> consoles;
};

// Enum <-> XML string tables; fromString returns nullopt for unknown text.
std::string_view toString(VirtType v);
std::optional<VirtType> virtTypeFromString(std::string_view s);
std::string_view toString(LifecycleAction v);
std::optional<LifecycleAction> lifecycleActionFromString(std::string_view s);
std::string_view toString(BootDevice v);
std::optional<BootDevice> bootDeviceFromString(std::string_view s);
std::string_view toString(MacvlanMode v);
std::optional<MacvlanMode> macvlanModeFromString(std::string_view s);
std::string_view toString(NetDef::DriverName v);
std::string_view toString(NetDef::LinkState v);

std::string uuidToString(const std::array<unsigned char, 16> &uuid);
std::optional<std::array<unsigned char, 16>> uuidFromString(std::string_view s);
std::array<unsigned char, 16> generateUuid();

} // namespace vd::conf
