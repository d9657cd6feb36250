// SPDX-License-Identifier: LGPL-2.1-or-later
// `virt-direct serve`: the libvirt-protocol daemon.  Listens on
// RUNDIR/libvirt-sock (read-write: root, our own user and an optional
// group) and RUNDIR/libvirt-sock-ro (read-only procedures, anyone), or on
// the sockets systemd passes.
#pragma once

#include <optional>
#include <string>

#include "util/virpaths.h"

namespace vd::remote {

struct ServeOptions {
    bool daemon = false;                // detach once the sockets are ready
    std::optional<std::string> group;   // may use the read-write socket
    unsigned workers = 16;
};

std::string socketDir(const Paths &paths);
std::string readWriteSocketPath(const Paths &paths);
std::string readOnlySocketPath(const Paths &paths);

// Serve until SIGTERM/SIGINT.  Throws vd::Error when it cannot start.
void serve(const Paths &paths, const ServeOptions &options);

} // namespace vd::remote
