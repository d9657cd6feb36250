// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "util/virprocess.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "util/virerror.h"
#include "util/virfile.h"

namespace vd {

ProcessId ProcessId::self()
{
    auto me = of(::getpid());
    if (!me)
        raiseInternal(_("cannot read the start time of this process"));
    return *me;
}

std::optional<ProcessId> ProcessId::of(pid_t pid)
{
    if (pid <= 0)
        return std::nullopt;
    std::string stat;
    try {
        stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error &) {
        return std::nullopt;
    }
    // "PID (COMM) STATE ..."; COMM may contain anything, so parse from the
    // last ')'.  After it: state is field 3, start time field 22.
    auto paren = stat.rfind(')');
    if (paren == std::string::npos)
        return std::nullopt;
    std::istringstream in(stat.substr(paren + 1));
    std::string field;
    unsigned long long start = 0;
    for (int n = 3; n <= 22 && in >> field; ++n) {
        if (n == 3 && (field == "Z" || field == "X"))
            return std::nullopt;
        if (n == 22)
            start = std::strtoull(field.c_str(), nullptr, 10);
    }
    if (!start)
        return std::nullopt;
    return ProcessId{pid, start};
}

bool ProcessId::alive() const
{
    auto now = of(pid);
    return now && now->startTime == startTime;
}

} // namespace vd
