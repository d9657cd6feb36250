#include <config.h>

#include "util/virpaths.h"

#include <cstdlib>

namespace vd {

Paths Paths::forRoot(const std::string &root)
{
    Paths p;
    p.root = root;
    if (root.empty()) {
        p.configDir = "/etc/virt-direct/qemu";
        p.runDir = "/run/virt-direct/qemu";
        p.stateDir = "/var/lib/virt-direct/qemu";
        p.cacheDir = "/var/cache/virt-direct/qemu";
    } else {
        std::string r = root;
        while (r.size() > 1 && r.back() == '/')
            r.pop_back();
        p.configDir = r + "/etc/qemu";
        p.runDir = r + "/run/qemu";
        p.stateDir = r + "/lib/qemu";
        p.cacheDir = r + "/cache/qemu";
    }
    return p;
}

Paths Paths::fromEnvironment(const std::string &rootOption)
{
    if (!rootOption.empty())
        return forRoot(rootOption);
    const char *env = std::getenv("VIRT_DIRECT_ROOT");
    return forRoot(env ? env : "");
}

} // namespace vd
