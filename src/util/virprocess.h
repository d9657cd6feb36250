// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A process named by pid AND start time, so that a record naming it stays
// correct after the process died and the pid was reused: "is the process
// that wrote this record still alive?" asked without that risk.
#pragma once

#include <sys/types.h>

#include <optional>

namespace vd {

struct ProcessId {
    pid_t pid = -1;
    unsigned long long startTime = 0; // /proc/PID/stat field 22 (clock ticks since boot)

    // The calling process.
    static ProcessId self();
    // The process that has `pid` now; nullopt when there is none (or it is
    // a zombie: gone for every purpose of ours).
    static std::optional<ProcessId> of(pid_t pid);
    // Still the same process, running.
    bool alive() const;

    bool operator==(const ProcessId &o) const = default;
};

} // namespace vd
