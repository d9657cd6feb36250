// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "util/virfault.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "util/virerror.h"
#include "util/virfile.h"

namespace vd {

namespace {

struct FaultSpec {
    bool active = false;
    std::string step;
    unsigned hit = 1;
    std::string action = "fail";
    std::string traceFile;
};

// VIRT_DIRECT_FAULT=STEP[@N][:ACTION], read once per process.
FaultSpec parseSpec()
{
    FaultSpec spec;
    if (const char *trace = std::getenv("VIRT_DIRECT_FAULT_TRACE"))
        spec.traceFile = trace;
    const char *env = std::getenv("VIRT_DIRECT_FAULT");
    if (!env || !*env)
        return spec;
    std::string s = env;
    if (auto colon = s.find(':'); colon != std::string::npos) {
        spec.action = s.substr(colon + 1);
        s.erase(colon);
    }
    if (auto at = s.find('@'); at != std::string::npos) {
        spec.hit = static_cast<unsigned>(std::strtoul(s.c_str() + at + 1, nullptr, 10));
        s.erase(at);
    }
    spec.step = s;
    spec.active = !s.empty() && spec.hit > 0;
    return spec;
}

void trace(const std::string &file, const char *step)
{
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        return;
    // One write per line: O_APPEND keeps lines of concurrent processes whole.
    std::string line = std::to_string(::getpid()) + " " + step + "\n";
    ssize_t n = ::write(fd.get(), line.data(), line.size());
    (void)n;
}

} // namespace

void faultPoint(const char *step)
{
    static std::once_flag once;
    static FaultSpec spec;
    static std::mutex mutex;
    static std::map<std::string, unsigned> hits;
    std::call_once(once, [] { spec = parseSpec(); });
    if (!spec.active && spec.traceFile.empty())
        return;
    std::lock_guard<std::mutex> guard(mutex);
    if (!spec.traceFile.empty())
        trace(spec.traceFile, step);
    if (!spec.active || spec.step != step || ++hits[step] != spec.hit)
        return;
    if (spec.action == "kill") {
        ::kill(::getpid(), SIGKILL);
        ::pause();
    }
    if (spec.action == "enospc")
        raiseSystem(ENOSPC, strprintf(_("injected fault at %s"), step));
    throw Error(VIR_ERR_INTERNAL_ERROR, strprintf(_("injected fault at %s"), step));
}

} // namespace vd
