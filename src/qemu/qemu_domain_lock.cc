// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_domain_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "util/virerror.h"

namespace vd::qemu {
namespace {

// One mutex per lock file path, alive while some thread holds or waits for
// it; expired entries are pruned on the next lookup.
std::shared_ptr<std::mutex> threadMutexFor(const std::string &path)
{
    static std::mutex registryMutex;
    static std::map<std::string, std::weak_ptr<std::mutex>> registry;
    std::lock_guard<std::mutex> guard(registryMutex);
    for (auto it = registry.begin(); it != registry.end();)
        it = it->second.expired() ? registry.erase(it) : std::next(it);
    auto &slot = registry[path];
    auto mutex = slot.lock();
    if (!mutex) {
        mutex = std::make_shared<std::mutex>();
        slot = mutex;
    }
    return mutex;
}

} // namespace

DomainLock::DomainLock(const Paths &paths, const std::string &name)
    : name_(name), path_(paths.runDir + "/" + name + ".lock"), mutex_(threadMutexFor(path_)),
      threadLock_(*mutex_)
{
    makePath(paths.runDir, 0700);
    // A holder in another process releasing while we wait unlinks the file
    // we then lock: it is ours only if it is still the file at path_; else
    // retry.
    for (;;) {
        UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd || ::flock(fd.get(), LOCK_EX) < 0)
            raiseSystem(errno, strprintf(_("cannot lock '%s'"), path_.c_str()));
        struct stat held, named;
        if (::fstat(fd.get(), &held) == 0 && ::stat(path_.c_str(), &named) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            fd_ = std::move(fd);
            return;
        }
    }
}

DomainLock::~DomainLock()
{
    // Unlinked while still locked (file and thread mutex), so a waiter
    // never holds a file that is no longer the lock.
    ::unlink(path_.c_str());
}

} // namespace vd::qemu
