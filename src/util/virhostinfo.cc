// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "util/virhostinfo.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits.h>
#include <set>
#include <sstream>

namespace vd {

namespace {

std::string firstLine(const std::string &path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The value after "key" and a colon in a /proc file ("MemTotal: 123 kB").
std::string procField(const std::string &path, const std::string &key)
{
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0)
            continue;
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
    }
    return "";
}

// sockets, cores per socket, threads per core of the online CPUs.
void cpuTopology(NodeInfo &info)
{
    std::set<std::string> packages, cores;
    unsigned seen = 0;
    for (unsigned cpu = 0; seen < info.cpus && cpu < 65536; ++cpu) {
        std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::string pkg = firstLine(base + "physical_package_id");
        if (pkg.empty())
            continue;
        ++seen;
        packages.insert(pkg);
        cores.insert(pkg + "/" + firstLine(base + "core_id"));
    }
    if (packages.empty() || cores.empty())
        return;
    info.sockets = static_cast<unsigned>(packages.size());
    info.cores = static_cast<unsigned>(cores.size()) / info.sockets;
    info.threads = info.cpus / static_cast<unsigned>(cores.size());
    if (info.cores == 0 || info.threads == 0 ||
        info.sockets * info.cores * info.threads != info.cpus) {
        // Odd topologies (offline siblings): libvirt's fallback is one
        // socket of `cpus` cores.
        info.sockets = 1;
        info.cores = info.cpus;
        info.threads = 1;
    }
}

} // namespace

std::string hostArch()
{
    utsname u{};
    if (uname(&u) < 0)
        return "";
    return u.machine;
}

std::string hostName()
{
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof(buf) - 1) < 0)
        return "localhost";
    return buf;
}

NodeInfo hostNodeInfo()
{
    NodeInfo info;
    info.model = hostArch();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    info.cpus = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
    std::istringstream mem(procField("/proc/meminfo", "MemTotal"));
    mem >> info.memoryKiB;
    std::string mhz = procField("/proc/cpuinfo", "cpu MHz");
    if (!mhz.empty())
        info.mhz = static_cast<unsigned>(std::strtod(mhz.c_str(), nullptr));
    cpuTopology(info);
    return info;
}

std::string hostUuid()
{
    std::string dmi = firstLine("/sys/class/dmi/id/product_uuid");
    if (dmi.size() == 36)
        return dmi;
    std::string id = firstLine("/etc/machine-id");
    if (id.size() != 32)
        return "";
    return id.substr(0, 8) + "-" + id.substr(8, 4) + "-" + id.substr(12, 4) + "-" +
           id.substr(16, 4) + "-" + id.substr(20, 12);
}

} // namespace vd
