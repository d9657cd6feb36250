// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the domain XML parser and validator, as `define` and
// the live-state readers use them.  Any input may be refused with vd::Error;
// anything else (a crash, a sanitizer report, another exception, a formatted
// definition that does not parse back to the same text) is a bug.
#include <config.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "util/virerror.h"

namespace {

void roundTrip(const std::string &xml, unsigned parseFlags, unsigned formatFlags)
{
    std::unique_ptr<vd::conf::DomainDef> def;
    try {
        def = vd::conf::parseDomainXML(xml, parseFlags);
    } catch (const vd::Error &) {
        return; // refused: fine
    }
    if (parseFlags == vd::conf::PARSE_INACTIVE) {
        try {
            vd::conf::validateDomainDef(*def);
        } catch (const vd::Error &) {
        }
    }
    // What we format, we must read back, to the same text.
    std::string once = vd::conf::formatDomainXML(*def, formatFlags);
    std::string twice = vd::conf::formatDomainXML(*vd::conf::parseDomainXML(once, parseFlags),
                                                  formatFlags);
    if (once != twice)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string xml(reinterpret_cast<const char *>(data), size);
    roundTrip(xml, vd::conf::PARSE_INACTIVE, vd::conf::FORMAT_INACTIVE);
    roundTrip(xml, vd::conf::PARSE_LIVE, 0);
    return 0;
}
