// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_host.h"

#include <fcntl.h>

#include <string>

#include "util/virerror.h"
#include "util/virfile.h"

namespace vd::qemu {

bool hostVhostNetAvailable()
{
    UniqueFd fd(::open("/dev/vhost-net", O_RDWR | O_CLOEXEC));
    return static_cast<bool>(fd);
}

bool hostKvmUsable()
{
    UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!fd)
        return false;
    // /dev/kvm may be a paravirtual device that cannot run real guests;
    // hardware virtualisation shows as vmx (Intel) or svm (AMD).
    std::string cpuinfo;
    try {
        cpuinfo = readFile("/proc/cpuinfo");
    } catch (const Error &) {
        return false;
    }
    return cpuinfo.find(" vmx") != std::string::npos || cpuinfo.find(" svm") != std::string::npos;
}

} // namespace vd::qemu
