// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A process named by pid AND start time, so that a record naming it stays
// correct after the process died and the pid was reused: "is the process
// that wrote this record still alive?" asked without that risk.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

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

// The fields of /proc/PID/stat after the command name: element 0 is field
// 3 (the state).  The name may contain anything, so parsing starts after
// its last ')'.  nullopt when the process is gone or the file is odd.
std::optional<std::vector<std::string>> procStatFields(pid_t pid);

} // namespace vd
