#include <config.h>

#include "qemu/qemu_domain_address.h"

#include <algorithm>
#include <map>
#include <set>

#include "util/virerror.h"

namespace vd::qemu {

namespace {

// Slots 0..31 on every bus; which of them devices may use.
constexpr unsigned slotsPerBus = 32;

// i440fx: slot 0 is the host bridge, slot 1 the PIIX3 (ISA, IDE, USB, PM).
// q35: slot 0 is the host bridge, slot 0x1f the ICH9 (LPC, SATA, SMBus).
// pci-bridge: slot 0 is left free for the bridge's SHPC, as libvirt does.
bool slotUsable(MachineFamily family, unsigned bus, unsigned slot)
{
    if (slot == 0 || slot >= slotsPerBus)
        return false;
    if (bus != 0)
        return true;
    if (family == MachineFamily::I440fx)
        return slot >= 2;
    return slot != 0x1f;
}

struct Slot {
    unsigned bus, slot;
    auto operator<=>(const Slot &) const = default;
};

} // namespace

MachineFamily machineFamily(const std::string &m)
{
    if (m == "q35" || m.rfind("pc-q35-", 0) == 0)
        return MachineFamily::Q35;
    if (m == "pc" || m.rfind("pc-i440fx-", 0) == 0 || m.rfind("pc-", 0) == 0)
        return MachineFamily::I440fx;
    raiseUnsupported(strprintf(
        _("machine type '%s' is not supported: use an i440fx ('pc') or 'q35' machine"),
        m.c_str()));
}

std::string effectiveMachine(const conf::DomainDef &def, const QemuCaps &caps)
{
    if (!def.os.machine.empty())
        return def.os.machine;
    std::string m = caps.defaultMachine();
    return m.empty() ? std::string("pc") : m;
}

bool netNeedsPci(const conf::NetDef &) { return true; }

bool diskNeedsPci(const conf::DiskDef &disk) { return disk.bus == conf::DiskDef::Bus::Virtio; }

std::string pciBusName(MachineFamily family, unsigned index)
{
    if (index == 0 && family == MachineFamily::Q35)
        return "pcie.0";
    return "pci." + std::to_string(index);
}

std::string formatPciAddress(const conf::PciAddress &a)
{
    return strprintf("%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function);
}

void assignPciAddresses(conf::DomainDef &def, const QemuCaps &caps)
{
    const MachineFamily family = machineFamily(effectiveMachine(def, caps));

    // Buses: the root (index 0) plus every pci-bridge by its index.
    std::set<unsigned> buses{0};
    for (const auto &c : def.controllers) {
        if (c.model == conf::ControllerDef::Model::PciRoot) {
            if (c.index != 0)
                raiseXmlError(_("pci-root controller must have index 0"));
            continue;
        }
        if (c.index == 0)
            raiseXmlError(_("pci-bridge controller must not have index 0"));
        if (!buses.insert(c.index).second)
            raiseXmlError(strprintf(_("Multiple 'pci' controllers with index '%u'"), c.index));
    }

    // Every device that takes a PCI slot, in the order slots are handed
    // out: bridges, then disks, then NICs (stable for the same definition).
    std::vector<conf::DeviceInfo *> devices;
    std::vector<const conf::ControllerDef *> bridgeOf; // parallel: non-null for bridges
    for (auto &c : def.controllers)
        if (c.model == conf::ControllerDef::Model::PciBridge) {
            devices.push_back(&c.info);
            bridgeOf.push_back(&c);
        }
    for (auto &d : def.disks)
        if (diskNeedsPci(d)) {
            devices.push_back(&d.info);
            bridgeOf.push_back(nullptr);
        }
    for (auto &n : def.nets)
        if (netNeedsPci(n)) {
            devices.push_back(&n.info);
            bridgeOf.push_back(nullptr);
        }

    // Reserve the explicit addresses.
    std::map<Slot, std::set<unsigned>> usedFunctions;
    for (size_t i = 0; i < devices.size(); ++i) {
        auto &pci = devices[i]->pci;
        if (!pci)
            continue;
        std::string text = formatPciAddress(*pci);
        if (pci->domain != 0)
            raiseXmlError(strprintf(_("PCI address %s: only PCI domain 0 is supported"),
                                    text.c_str()));
        if (!buses.count(pci->bus))
            raiseXmlError(strprintf(_("PCI address %s: there is no PCI controller with index %u"),
                                    text.c_str(), pci->bus));
        if (bridgeOf[i] && pci->bus >= bridgeOf[i]->index)
            raiseXmlError(strprintf(
                _("pci-bridge with index %u must sit on a bus with a lower index, not %u"),
                bridgeOf[i]->index, pci->bus));
        if (!slotUsable(family, pci->bus, pci->slot) || pci->function > 7)
            raiseXmlError(strprintf(_("PCI address %s is reserved or out of range"),
                                    text.c_str()));
        if (!usedFunctions[{pci->bus, pci->slot}].insert(pci->function).second)
            raiseInternal(strprintf(_("Attempted double use of PCI Address %s"), text.c_str()));
    }

    auto freeSlots = [&](unsigned bus) {
        unsigned n = 0;
        for (unsigned s = 0; s < slotsPerBus; ++s)
            if (slotUsable(family, bus, s) && !usedFunctions.count({bus, s}))
                ++n;
        return n;
    };
    auto firstFree = [&](unsigned bus, bool highest) -> std::optional<unsigned> {
        for (unsigned k = 0; k < slotsPerBus; ++k) {
            unsigned s = highest ? slotsPerBus - 1 - k : k;
            if (slotUsable(family, bus, s) && !usedFunctions.count({bus, s}))
                return s;
        }
        return std::nullopt;
    };

    size_t missing = 0;
    for (auto *d : devices)
        if (!d->pci)
            ++missing;
    size_t available = 0;
    for (unsigned b : buses)
        available += freeSlots(b);

    // Add pci-bridges until everything fits.  New bridges take the highest
    // free root slots, so the first devices keep the low slots they would
    // get in a small domain (net0 stays at 00:02.0 or wherever it was).
    std::vector<size_t> newBridges;
    while (missing > available) {
        if (!caps.hasDevice("pci-bridge") || !caps.has(QemuCapsFlag::Device))
            raiseUnsupported(strprintf(
                _("no free PCI slot for %zu more devices, and emulator %s cannot add a "
                  "pci-bridge"),
                missing - available, caps.binary.c_str()));
        std::optional<unsigned> slot;
        unsigned parent = 0;
        for (unsigned b : buses) {
            if ((slot = firstFree(b, true))) {
                parent = b;
                break;
            }
        }
        if (!slot)
            raiseUnsupported(strprintf(_("no free PCI slot left for %zu more devices"),
                                       missing - available));
        unsigned index = *buses.rbegin() + 1;
        if (index > 255)
            raiseUnsupported(_("too many PCI buses"));
        conf::ControllerDef bridge;
        bridge.model = conf::ControllerDef::Model::PciBridge;
        bridge.index = index;
        bridge.chassisNr = index;
        bridge.info.pci = conf::PciAddress{0, parent, *slot, 0, false};
        usedFunctions[{parent, *slot}].insert(0);
        def.controllers.push_back(bridge);
        buses.insert(index);
        available = available - 1 + freeSlots(index);
    }

    // Hand out the lowest free slot, root bus first.  `devices` may point
    // into def.controllers, which push_back above may have moved: rebuild.
    // A bridge may only sit on a bus with a lower index than its own.
    std::vector<std::pair<conf::DeviceInfo *, unsigned>> todo;
    for (auto &c : def.controllers)
        if (c.model == conf::ControllerDef::Model::PciBridge && !c.info.pci)
            todo.emplace_back(&c.info, c.index);
    for (auto &d : def.disks)
        if (diskNeedsPci(d) && !d.info.pci)
            todo.emplace_back(&d.info, 256);
    for (auto &n : def.nets)
        if (netNeedsPci(n) && !n.info.pci)
            todo.emplace_back(&n.info, 256);
    for (auto [info, busLimit] : todo) {
        bool placed = false;
        for (unsigned b : buses) {
            if (b >= busLimit)
                break;
            if (auto s = firstFree(b, false)) {
                info->pci = conf::PciAddress{0, b, *s, 0, false};
                usedFunctions[{b, *s}].insert(0);
                placed = true;
                break;
            }
        }
        if (!placed)
            raiseUnsupported(_("no free PCI slot left"));
    }

    // A bridge without chassisNr gets its index (unique, as QEMU requires).
    for (auto &c : def.controllers)
        if (c.model == conf::ControllerDef::Model::PciBridge && !c.chassisNr)
            c.chassisNr = c.index;
}

} // namespace vd::qemu
