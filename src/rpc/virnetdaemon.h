// SPDX-License-Identifier: LGPL-2.1-or-later
// Process-level plumbing of a daemon: sockets handed over by systemd
// (socket activation), detaching into the background only once the sockets
// are ready, and the pid file.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "util/virfile.h"

namespace vd::rpc {

struct InheritedSocket {
    UniqueFd fd;
    std::string name; // LISTEN_FDNAMES entry, "" when not given
    std::string path; // the unix socket path it is bound to, "" if unknown
};

// The listening sockets systemd passed (LISTEN_PID/LISTEN_FDS/
// LISTEN_FDNAMES); empty when not socket-activated.  The variables are
// removed so children do not take the sockets for theirs.
std::vector<InheritedSocket> takeSystemdSockets();

// Fork into the background.  The parent waits until the child calls the
// returned `ready` function (then exits 0) or dies/reports an error first
// (the parent prints it and exits 1), so `serve --daemon` returns only
// once clients can connect.  The child gets a new session and /dev/null
// as stdin/stdout/stderr once ready.
using ReadyFn = std::function<void(const std::string &error)>;
ReadyFn daemonize();

// Write our pid to `path` (removed again by the returned guard).
class PidFile {
public:
    explicit PidFile(std::string path);
    ~PidFile();
    PidFile(const PidFile &) = delete;
    PidFile &operator=(const PidFile &) = delete;

private:
    std::string path_;
};

} // namespace vd::rpc
