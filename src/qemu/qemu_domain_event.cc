// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_domain_event.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "util/virerror.h"

namespace vd::qemu {

namespace {

// Changes usually come in bursts (a start writes several files): rescan
// once things have been quiet this long.
constexpr int SettleMs = 30;
// ... but look at least this often while changes keep coming.
constexpr int MaxDelayMs = 200;
// A supervisor killed with SIGKILL leaves its files behind; look anyway.
constexpr int RescanMs = 3000;

// Read all pending inotify events; true when one concerns a domain file
// (lock files come and go with every lookup and say nothing).
bool drainInotify(int fd)
{
    alignas(inotify_event) char buf[8192];
    bool relevant = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            auto *ev = reinterpret_cast<inotify_event *>(p);
            std::string name = ev->len ? ev->name : "";
            bool lock = name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0;
            if (!lock)
                relevant = true;
            p += sizeof(inotify_event) + ev->len;
        }
    }
    return relevant;
}

long long mtimeNs(const std::string &path)
{
    struct stat st;
    if (stat(path.c_str(), &st) < 0)
        return -1;
    return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

} // namespace

DomainEventWatcher::DomainEventWatcher(const Driver &driver, Callback callback)
    : driver_(driver), callback_(std::move(callback))
{
    inotify_.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify_)
        raiseSystem(errno, _("cannot initialise inotify"));
    stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_)
        raiseSystem(errno, _("cannot create eventfd"));
    const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE;
    for (const std::string &dir : {driver.paths().configDir, driver.paths().runDir}) {
        makePath(dir, 0755);
        if (inotify_add_watch(inotify_.get(), dir.c_str(), mask) < 0)
            raiseSystem(errno, strprintf(_("cannot watch directory '%s'"), dir.c_str()));
    }
    {
        std::lock_guard lock(scanMutex_);
        current_ = scan();
    }
    thread_ = std::thread([this] { run(); });
}

DomainEventWatcher::~DomainEventWatcher()
{
    uint64_t one = 1;
    ssize_t n = write(stop_.get(), &one, sizeof(one));
    (void)n;
    if (thread_.joinable())
        thread_.join();
}

void DomainEventWatcher::expectStop(const std::string &name, int detail)
{
    std::lock_guard lock(mutex_);
    stopDetails_[name] = detail;
}

int DomainEventWatcher::takeStopDetail(const std::string &name)
{
    std::lock_guard lock(mutex_);
    auto it = stopDetails_.find(name);
    if (it == stopDetails_.end())
        return VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN;
    int detail = it->second;
    stopDetails_.erase(it);
    return detail;
}

DomainEventWatcher::Snapshot DomainEventWatcher::scan() const
{
    Snapshot snap;
    try {
        for (auto &info : driver_.listDomains(0)) {
            Seen s;
            s.configMtimeNs = info.persistent
                                  ? mtimeNs(driver_.paths().domainConfigPath(info.name))
                                  : -1;
            s.info = std::move(info);
            snap[s.info.name] = std::move(s);
        }
    } catch (const Error &) {
        return current_; // unreadable right now: no news rather than false news
    }
    return snap;
}

void DomainEventWatcher::emit(const DomainInfo &info, virDomainEventType event, int detail)
{
    DomainEvent ev;
    ev.domain = info;
    ev.event = event;
    ev.detail = detail;
    callback_(ev);
}

void DomainEventWatcher::compare(const Snapshot &before, const Snapshot &after)
{
    for (const auto &[name, was] : before) {
        auto it = after.find(name);
        const DomainInfo *now = it == after.end() ? nullptr : &it->second.info;
        if (was.info.active() && (!now || !now->active())) {
            DomainInfo stopped = now ? *now : was.info;
            stopped.id = -1;
            emit(stopped, VIR_DOMAIN_EVENT_STOPPED, takeStopDetail(name));
        }
        if (was.info.persistent && (!now || !now->persistent))
            emit(now ? *now : was.info, VIR_DOMAIN_EVENT_UNDEFINED,
                 VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
    }
    for (const auto &[name, seen] : after) {
        auto it = before.find(name);
        const Seen *was = it == before.end() ? nullptr : &it->second;
        const DomainInfo &now = seen.info;
        if (now.persistent && (!was || !was->info.persistent))
            emit(now, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
        else if (now.persistent && was->configMtimeNs != seen.configMtimeNs)
            emit(now, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED);
        if (now.active() && (!was || !was->info.active() || was->info.id != now.id))
            emit(now, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
    }
}

void DomainEventWatcher::run()
{
    using Clock = std::chrono::steady_clock;
    auto lastScan = Clock::now();
    bool pending = false;
    for (;;) {
        pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
        int rc = poll(fds, 2, pending ? SettleMs : RescanMs);
        if (rc < 0 && errno != EINTR)
            return;
        if (fds[0].revents)
            return;
        if (fds[1].revents) {
            if (drainInotify(inotify_.get()))
                pending = true;
            if (pending && Clock::now() < lastScan + std::chrono::milliseconds(MaxDelayMs))
                continue; // wait until it settles, but not forever
        }
        pending = false;
        lastScan = Clock::now();
        rescan();
    }
}

void DomainEventWatcher::rescan()
{
    std::lock_guard lock(scanMutex_);
    Snapshot next = scan();
    compare(current_, next);
    current_ = std::move(next);
}

void DomainEventWatcher::sync() { rescan(); }

} // namespace vd::qemu
