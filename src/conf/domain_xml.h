// Parse libvirt-dialect domain XML into vd::conf::DomainDef and format it
// back in libvirt's canonical order and style.
#pragma once

#include <memory>
#include <string>

#include "conf/domain_conf.h"

namespace vd::conf {

// parseDomainXML flags.
enum : unsigned {
    // Persistent definition: drop auto-generated macvtap*/macvlan* target
    // names, non-user aliases and pty paths; ignore live-only state.
    PARSE_INACTIVE = 1u << 0,
    // Live/status XML: keep the domain id, target dev, ifindex, aliases.
    PARSE_LIVE = 1u << 1,
};

// formatDomainXML flags.
enum : unsigned {
    // Drop live-only things: id, auto-generated target names, non-user
    // aliases, pty paths.
    FORMAT_INACTIVE = 1u << 0,
    // Private status XML: also write live-only state libvirt keeps out of
    // dumpxml (the macvtap ifindex, as <target dev=... ifindex=.../>).
    FORMAT_STATUS = 1u << 1,
};

// Throws vd::Error: malformed XML -> VIR_ERR_XML_DETAIL (libxml's message);
// bad values -> VIR_ERR_XML_ERROR; anything outside the supported subset ->
// VIR_ERR_CONFIG_UNSUPPORTED naming the element or attribute.  Fills the
// defaults libvirt fills (uuid, arch/machine, boot dev, pci-root controller,
// console for the first serial port, ...).  Semantic checks across devices
// are in validateDomainDef (domain_validate.h).
std::unique_ptr<DomainDef> parseDomainXML(const std::string &xml, unsigned flags);

std::string formatDomainXML(const DomainDef &def, unsigned flags);

// The whole define pipeline, in the order that gives the clearest errors:
// well-formedness, the subset/value checks of the parser (libvirt wording),
// the RelaxNG schema when `validateSchema`, then validateDomainDef.
std::unique_ptr<DomainDef> parseAndValidateDomainXML(const std::string &xml, unsigned flags,
                                                     bool validateSchema);

} // namespace vd::conf
