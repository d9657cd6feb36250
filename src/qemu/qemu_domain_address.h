// Automatic, stable PCI addressing.  Devices without an <address> get the
// lowest free slot (root bus first, then pci-bridges in index order); when
// the buses are full, pci-bridge controllers are added to the definition.
// The addresses are written into the DomainDef so that the live XML records
// them and the next start reuses them unchanged.
#pragma once

#include <string>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

namespace vd::qemu {

enum class MachineFamily { I440fx, Q35 };

// The PCI family of a machine type name (pc, pc-i440fx-7.2, q35, ...).
// Throws VIR_ERR_CONFIG_UNSUPPORTED for machines without a PCI layout we know.
MachineFamily machineFamily(const std::string &machine);

// The machine a domain runs: <type machine=...> or the emulator's default.
std::string effectiveMachine(const conf::DomainDef &def, const QemuCaps &caps);

// True for NIC models that are PCI devices (all supported ones on x86).
bool netNeedsPci(const conf::NetDef &net);
bool diskNeedsPci(const conf::DiskDef &disk);

// QEMU's name for bus `index` ("pci.0", "pcie.0" for q35's root, "pci.N").
std::string pciBusName(MachineFamily family, unsigned index);

// Validate explicit addresses and assign the missing ones.  Throws
// VIR_ERR_INTERNAL_ERROR for a double use ("Attempted double use of PCI
// Address ..."), VIR_ERR_XML_ERROR for addresses on buses that do not exist
// or reserved slots, VIR_ERR_CONFIG_UNSUPPORTED when no slot is left.
void assignPciAddresses(conf::DomainDef &def, const QemuCaps &caps);

// "0000:00:03.0"
std::string formatPciAddress(const conf::PciAddress &addr);

} // namespace vd::qemu
