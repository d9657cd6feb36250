// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the JSON parser that reads QMP replies and events, the
// supervisor's protocol and the runtime state files.  Any input may be
// refused with vd::Error; what parses must serialise and parse back equal.
#include <config.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "util/virerror.h"
#include "util/virjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string text(reinterpret_cast<const char *>(data), size);
    vd::JsonValue v;
    try {
        v = vd::JsonValue::parse(text);
    } catch (const vd::Error &) {
        return 0;
    }
    std::string once = v.toString();
    if (!(vd::JsonValue::parse(once) == v) || vd::JsonValue::parse(once).toString() != once)
        std::abort();
    return 0;
}
