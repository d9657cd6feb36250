// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The intent record of a domain start: run/qemu/NAME.intent.json, written
// under the domain lock before anything is created, rewritten as the start
// learns more (the macvtap plan: names, link group, passthrough parents'
// MACs; the supervisor's pid), and removed once the domain runs or
// everything is undone.  Whoever finds a record whose owner (pid + start
// time, so pid reuse cannot fool it) is dead recovers the start: see
// recoverAbandonedStart() in qemu_process.h.
#pragma once

#include <optional>
#include <string>

#include "util/virnetdevmacvtap.h"
#include "util/virpaths.h"
#include "util/virprocess.h"

namespace vd::qemu {

struct StartIntent {
    std::string name;                    // the domain
    ProcessId owner;                     // the process doing the start
    std::optional<ProcessId> supervisor; // once launched
    MacvtapPlan macvtaps;                // what may have been created

    std::string format() const;
    // Throws VIR_ERR_INTERNAL_ERROR for text that is not such a record.
    static StartIntent parse(const std::string &text);
};

std::string intentPath(const Paths &paths, const std::string &name);

// Atomic (temporary + rename) write of the record; throws on failure, in
// which case the previous record, if any, is untouched.
void writeIntent(const Paths &paths, const StartIntent &intent);

// nullopt when there is no record; a record that cannot be parsed (a torn
// write cannot happen, but a hand edit can) is returned as an intent of an
// unknown, dead owner with nothing planned: recovery then cleans up what
// the domain's name alone identifies.
std::optional<StartIntent> readIntent(const Paths &paths, const std::string &name);

} // namespace vd::qemu
