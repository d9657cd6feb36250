// Device aliases (the ids QEMU knows devices by), named like libvirt's so
// that users and tools find the same names: net0 / hostnet0, virtio-disk0,
// ide0-1-0, serial0 / charserial0, pci.1.
#pragma once

#include <string>

#include "conf/domain_conf.h"

namespace vd::qemu {

// Fill every empty DeviceInfo::alias; keep those already set (a live
// definition keeps its names across restarts).  Throws
// VIR_ERR_CONFIG_UNSUPPORTED for an alias QEMU cannot take as an id and
// VIR_ERR_XML_ERROR for a duplicate.
void assignDeviceAliases(conf::DomainDef &def);

// The id of a NIC's backend: "host" + the NIC's alias (hostnet0).
std::string netdevAlias(const conf::NetDef &net);
// The id of a character device's backend: "char" + alias (charserial0).
std::string chardevAlias(const conf::DeviceInfo &info);

// QEMU's rule for ids (letters, digits, '-', '.', '_'; starts with a letter).
bool isValidQemuId(const std::string &id);

} // namespace vd::qemu
