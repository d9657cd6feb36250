// SPDX-License-Identifier: LGPL-2.1-or-later
// Facts about the host: what virNodeGetInfo and virConnectGetHostname
// report, read from the kernel (uname, sysconf, /proc, /sys).
#pragma once

#include <string>

namespace vd {

struct NodeInfo {
    std::string model;            // the machine architecture, e.g. "x86_64"
    unsigned long long memoryKiB = 0;
    unsigned cpus = 0;            // online CPUs
    unsigned mhz = 0;
    unsigned nodes = 1;
    unsigned sockets = 1;
    unsigned cores = 1;           // per socket
    unsigned threads = 1;         // per core
};

NodeInfo hostNodeInfo();
std::string hostName();
// The machine architecture (uname -m).
std::string hostArch();
// The host UUID: DMI's product UUID when readable, else one derived from
// /etc/machine-id; "" when neither exists.
std::string hostUuid();

} // namespace vd
