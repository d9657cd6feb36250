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
    auto fields = procStatFields(pid);
    // Field 3 is the state, field 22 the start time.
    if (!fields || fields->size() < 20 || (*fields)[0] == "Z" || (*fields)[0] == "X")
        return std::nullopt;
    unsigned long long start = std::strtoull((*fields)[19].c_str(), nullptr, 10);
    if (!start)
        return std::nullopt;
    return ProcessId{pid, start};
}

std::optional<std::vector<std::string>> procStatFields(pid_t pid)
{
    std::string stat;
    try {
        stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error &) {
        return std::nullopt;
    }
    auto paren = stat.rfind(')');
    if (paren == std::string::npos)
        return std::nullopt;
    std::istringstream in(stat.substr(paren + 1));
    std::vector<std::string> fields;
    for (std::string field; in >> field;)
        fields.push_back(field);
    return fields;
}

bool ProcessId::alive() const
{
    auto now = of(pid);
    return now && now->startTime == startTime;
}

} // namespace vd
