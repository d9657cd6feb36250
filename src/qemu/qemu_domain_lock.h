// SPDX-License-Identifier: LGPL-2.1-or-later
// The per-domain lock.  Whoever changes a domain's definition or runtime
// state holds it: define, undefine, start, create, stale cleanup and the
// rewrite of the live XML.  It has two halves:
//   - an in-process mutex per domain, so threads of one process (the RPC
//     server) queue up in order without spinning on the file lock;
//   - an flock on run/NAME.lock, so separate processes (CLI invocations,
//     a server and a CLI) exclude each other.
// The lock file is removed on release: nothing is left behind.
//
// It is not recursive: a thread holding it must call only the *Locked /
// `held` variants of functions that would take it themselves.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "util/virfile.h"
#include "util/virpaths.h"

namespace vd::qemu {

class DomainLock {
public:
    // Blocks until held.  `name` must be a valid domain name.
    DomainLock(const Paths &paths, const std::string &name);
    ~DomainLock();
    DomainLock(const DomainLock &) = delete;
    DomainLock &operator=(const DomainLock &) = delete;

    const std::string &name() const noexcept { return name_; }

private:
    std::string name_;
    std::string path_;
    std::shared_ptr<std::mutex> mutex_; // shared by the threads of this process
    std::unique_lock<std::mutex> threadLock_;
    UniqueFd fd_; // closing it drops the flock
};

} // namespace vd::qemu
