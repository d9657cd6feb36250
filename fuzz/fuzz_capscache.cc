// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the reader of the capabilities cache
// (cache/qemu/capabilities/*.xml), QemuCaps::fromXML.  A damaged entry must
// be refused with vd::Error (the cache then probes again); what is read must
// be written back to the same text.
#include <config.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "qemu/qemu_capabilities.h"
#include "util/virerror.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string xml(reinterpret_cast<const char *>(data), size);
    vd::qemu::QemuCaps caps;
    try {
        caps = vd::qemu::QemuCaps::fromXML(xml, "fuzz");
    } catch (const vd::Error &) {
        return 0;
    }
    std::string once = caps.toXML();
    if (vd::qemu::QemuCaps::fromXML(once, "fuzz").toXML() != once)
        std::abort();
    return 0;
}
