// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_validate.h"

#include "conf/domain_xml.h"
#include "util/virerror.h"

namespace vd::qemu {
namespace {

using conf::DomainDef;
using conf::NetDef;

// libvirt's default NIC model for x86 QEMU guests.
constexpr const char *defaultNicModel = "rtl8139";

// The i440fx machine's fixed layout: one PCI domain, and slot 1 of the
// root bus holds the PIIX3 (ISA bridge, IDE, USB).
void checkPciAddressForPc(const conf::PciAddress &a, const std::string &device)
{
    if (a.domain != 0)
        raiseUnsupported(strprintf(_("PCI domain 0x%04x of %s is not supported, only 0"),
                                   a.domain, device.c_str()));
    if (a.bus == 0 && a.slot == 1)
        raiseXmlError(strprintf(_("PCI address 0000:00:01 of %s is reserved for the PIIX3 "
                                  "chipset functions"),
                                device.c_str()));
}

// How errors name an interface: by MAC when it has one, else by position.
std::string netLabel(const NetDef &n, size_t i)
{
    if (!n.mac.isZero())
        return strprintf(_("interface %s"), n.mac.str().c_str());
    return strprintf(_("interface #%zu"), i + 1);
}

// Multiqueue, vhost-net and RX filter events exist for virtio-net only.
void checkNetForQemu(const NetDef &n, const std::string &label)
{
    bool virtio = n.model == "virtio";
    if (n.queues > 1 && !n.model.empty() && !virtio)
        raiseUnsupported(strprintf(_("Multiqueue network is not supported for: %s"),
                                   n.model.c_str()));
    if (n.driverName == NetDef::DriverName::Vhost && !virtio)
        raiseUnsupported(_("vhost-net is only supported for virtio network interfaces"));
    if (n.trustGuestRxFilters.value_or(false) && !virtio)
        raiseUnsupported(strprintf(_("%s: trustGuestRxFilters='yes' is only supported for "
                                     "model 'virtio'"),
                                   label.c_str()));
}

} // namespace

void postParseDomainForQemu(DomainDef &def)
{
    for (auto &n : def.nets)
        if (n.model.empty())
            n.model = defaultNicModel;
}

void validateDomainForQemu(const DomainDef &def)
{
    // QEMU's limit for the i440fx machine types.
    if (def.vcpus > 255)
        raiseUnsupported(strprintf(_("Maximum CPUs greater than specified machine type limit "
                                     "%u"),
                                   255u));
    if (def.os.machine.find("q35") != std::string::npos)
        raiseUnsupported(strprintf(_("machine type '%s' needs a pcie-root controller, which "
                                     "is not supported; use an i440fx 'pc' machine"),
                                   def.os.machine.c_str()));
    for (const auto &d : def.disks)
        if (d.info.pci)
            checkPciAddressForPc(*d.info.pci, strprintf(_("disk %s"), d.targetDev.c_str()));
    for (const auto &c : def.controllers)
        if (c.info.pci)
            checkPciAddressForPc(*c.info.pci, strprintf(_("PCI controller %u"), c.index));
    for (size_t i = 0; i < def.nets.size(); ++i) {
        std::string label = netLabel(def.nets[i], i);
        checkNetForQemu(def.nets[i], label);
        if (def.nets[i].info.pci)
            checkPciAddressForPc(*def.nets[i].info.pci, label);
    }
    // QEMU's PC has four ISA serial ports (COM1-COM4).
    for (size_t i = 0; i < def.serials.size(); ++i)
        if (def.serials[i].port.value_or(0) >= 4 || i >= 4)
            raiseXmlError(strprintf(_("Maximum supported number of ISA serial ports is '%d'"),
                                    4));
}

std::unique_ptr<DomainDef> parseDomainXMLForQemu(const std::string &xml, unsigned flags,
                                                 bool validateSchema)
{
    auto def = conf::parseAndValidateDomainXML(xml, flags, validateSchema);
    postParseDomainForQemu(*def);
    validateDomainForQemu(*def);
    return def;
}

} // namespace vd::qemu
