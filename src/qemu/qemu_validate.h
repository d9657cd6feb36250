// SPDX-License-Identifier: LGPL-2.1-or-later
// The QEMU driver's own steps between parsing and using a definition, like
// libvirt's qemuDomainDefPostParse (qemu_domain.c) and qemuValidateDomainDef
// (qemu_validate.c).  src/conf knows the XML and rules true for any
// hypervisor; what only holds for QEMU's x86 machines lives here.
#pragma once

#include <memory>
#include <string>

#include "conf/domain_conf.h"

namespace vd::qemu {

// Fill in QEMU's defaults: the NIC model of x86 guests (rtl8139), written
// into the definition as libvirt does so both show the same XML.
void postParseDomainForQemu(conf::DomainDef &def);

// Refuse what QEMU's i440fx 'pc' machines cannot do: more than 255 vCPUs,
// q35 (no pcie-root support yet), PCI domains other than 0, slot 1 of the
// root bus (PIIX3), more than four ISA serial ports, and NIC features only
// virtio-net has (multiqueue, vhost-net, trustGuestRxFilters).  Throws
// vd::Error with libvirt's code and wording.
void validateDomainForQemu(const conf::DomainDef &def);

// The whole pipeline a front end's XML goes through: the conf layer's
// parse + schema + semantic checks (parseAndValidateDomainXML), then the
// two steps above.
std::unique_ptr<conf::DomainDef> parseDomainXMLForQemu(const std::string &xml, unsigned flags,
                                                       bool validateSchema);

} // namespace vd::qemu
