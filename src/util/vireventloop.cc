#include <config.h>

#include "util/vireventloop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "util/virerror.h"

namespace vd {

using namespace std::chrono;

static_assert(EventLoop::Readable == EPOLLIN && EventLoop::Writable == EPOLLOUT &&
              EventLoop::Errored == EPOLLERR && EventLoop::HungUp == EPOLLHUP);

namespace {
// epoll data of the two fds the loop owns itself; watch ids start at 1.
constexpr uint64_t wakeTag = 0;
constexpr uint64_t signalTag = UINT64_MAX;
} // namespace

EventLoop::EventLoop()
{
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_)
        raiseSystem(errno, _("Unable to create epoll instance"));
    wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_)
        raiseSystem(errno, _("Unable to create eventfd"));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wakeTag;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) < 0)
        raiseSystem(errno, _("Unable to watch eventfd"));
    sigemptyset(&signalMask_);
}

EventLoop::~EventLoop()
{
    if (!blockedByUs_.empty()) {
        // Drop what is still pending so unblocking does not deliver it with
        // the default action (which would often kill us).
        if (signal_) {
            signalfd_siginfo info;
            while (read(signal_.get(), &info, sizeof(info)) == sizeof(info)) {
            }
        }
        sigset_t set;
        sigemptyset(&set);
        for (int s : blockedByUs_)
            sigaddset(&set, s);
        pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    }
}

EventLoop::WatchId EventLoop::addEpollWatch(int fd, uint32_t events, Watch w)
{
    WatchId id = nextId_++;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
        raiseSystem(errno, strprintf(_("Unable to watch file descriptor %d"), fd));
    w.fd = fd;
    w.events = events;
    watches_.emplace(id, std::move(w));
    return id;
}

void EventLoop::epollDel(int fd)
{
    // The fd may already be closed by its owner; that removed it from epoll.
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::WatchId EventLoop::addFd(int fd, uint32_t events, std::function<void(uint32_t)> cb)
{
    Watch w;
    w.kind = Kind::Fd;
    w.fdCb = std::move(cb);
    return addEpollWatch(fd, events, std::move(w));
}

void EventLoop::updateFd(WatchId id, uint32_t events)
{
    auto it = watches_.find(id);
    if (it == watches_.end() || it->second.kind != Kind::Fd)
        raiseInternal(strprintf(_("no file descriptor watch %llu"),
                                static_cast<unsigned long long>(id)));
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, it->second.fd, &ev) < 0)
        raiseSystem(errno, strprintf(_("Unable to watch file descriptor %d"), it->second.fd));
    it->second.events = events;
}

EventLoop::WatchId EventLoop::addTimer(Ms delay, std::function<void()> cb, std::optional<Ms> interval)
{
    if (interval && interval->count() <= 0)
        raiseInternal(_("timer interval must be positive"));
    Watch w;
    w.kind = Kind::Timer;
    w.timerCb = std::move(cb);
    w.due = Clock::now() + delay;
    w.interval = interval;
    WatchId id = nextId_++;
    watches_.emplace(id, std::move(w));
    return id;
}

EventLoop::WatchId EventLoop::addChild(Child &child, std::function<void(const ExitStatus &)> cb)
{
    if (child.pid() <= 0)
        raiseInternal(_("no child process to watch"));
    if (child.pidfd() < 0)
        throw vd::Error(VIR_ERR_OPERATION_UNSUPPORTED,
                    _("watching a child process needs pidfd support in the kernel"));
    Watch w;
    w.kind = Kind::Child;
    w.child = &child;
    w.childCb = std::move(cb);
    WatchId id = addEpollWatch(child.pidfd(), EPOLLIN, std::move(w));
    // Already reaped (or exited before we watched): the pidfd reports
    // readable at once, so the callback still runs from the loop.
    return id;
}

void EventLoop::refreshSignalFd()
{
    int fd = signalfd(signal_ ? signal_.get() : -1, &signalMask_, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        raiseSystem(errno, _("Unable to create signalfd"));
    if (!signal_) {
        signal_.reset(fd);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = signalTag;
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signal_.get(), &ev) < 0)
            raiseSystem(errno, _("Unable to watch signalfd"));
    }
}

EventLoop::WatchId EventLoop::addSignal(int signo, std::function<void(const signalfd_siginfo &)> cb)
{
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
        raiseInternal(strprintf(_("cannot watch signal %d"), signo));
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (pthread_sigmask(SIG_BLOCK, &one, &old) != 0)
        raiseInternal(_("Unable to block signal"));
    if (!sigismember(&old, signo))
        blockedByUs_.insert(signo);
    sigaddset(&signalMask_, signo);
    refreshSignalFd();
    Watch w;
    w.kind = Kind::Signal;
    w.signo = signo;
    w.signalCb = std::move(cb);
    WatchId id = nextId_++;
    watches_.emplace(id, std::move(w));
    return id;
}

void EventLoop::remove(WatchId id)
{
    auto it = watches_.find(id);
    if (it == watches_.end())
        return;
    Watch &w = it->second;
    if (w.kind == Kind::Fd || w.kind == Kind::Child)
        epollDel(w.fd);
    // A signal stays blocked and in the signalfd mask: unblocking it while
    // the process runs would restore its default action (often: die).
    watches_.erase(it);
}

void EventLoop::quit()
{
    quit_.store(true);
    wakeup();
}

void EventLoop::wakeup()
{
    uint64_t one = 1;
    ssize_t n = write(wake_.get(), &one, sizeof(one));
    (void)n; // EAGAIN: the counter is saturated, a wakeup is pending anyway
}

void EventLoop::dispatchSignals()
{
    signalfd_siginfo info;
    while (read(signal_.get(), &info, sizeof(info)) == sizeof(info)) {
        std::vector<WatchId> ids;
        for (const auto &[id, w] : watches_)
            if (w.kind == Kind::Signal && w.signo == static_cast<int>(info.ssi_signo))
                ids.push_back(id);
        for (WatchId id : ids) {
            auto it = watches_.find(id);
            if (it == watches_.end())
                continue;
            auto cb = it->second.signalCb; // the callback may remove its watch
            cb(info);
        }
    }
}

unsigned EventLoop::runTimers()
{
    unsigned ran = 0;
    auto now = Clock::now();
    std::vector<std::pair<Clock::time_point, WatchId>> due;
    for (const auto &[id, w] : watches_)
        if (w.kind == Kind::Timer && w.due <= now)
            due.emplace_back(w.due, id);
    std::sort(due.begin(), due.end());
    for (const auto &[when, id] : due) {
        auto it = watches_.find(id);
        if (it == watches_.end())
            continue;
        auto cb = it->second.timerCb;
        if (it->second.interval) {
            // Next period from the scheduled time, but never in the past:
            // a late loop does not fire a burst of catch-up calls.
            it->second.due = std::max(when + *it->second.interval, now);
        } else {
            watches_.erase(it);
        }
        cb();
        ++ran;
    }
    return ran;
}

unsigned EventLoop::runOnce(std::optional<Ms> timeout)
{
    // Sleep no longer than until the next timer.
    int waitMs = timeout ? static_cast<int>(std::clamp<int64_t>(timeout->count(), 0, INT32_MAX)) : -1;
    auto now = Clock::now();
    for (const auto &[id, w] : watches_)
        if (w.kind == Kind::Timer) {
            auto left = duration_cast<milliseconds>(w.due - now).count();
            // Round up so we do not wake just before the deadline and spin.
            if (w.due > now + milliseconds(left))
                ++left;
            int l = static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
            if (waitMs < 0 || l < waitMs)
                waitMs = l;
        }
    if (quit_.load())
        waitMs = 0;

    epoll_event events[64];
    int n = epoll_wait(epoll_.get(), events, 64, waitMs);
    if (n < 0) {
        if (errno != EINTR)
            raiseSystem(errno, _("Unable to wait for events"));
        n = 0;
    }
    unsigned ran = 0;
    for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == wakeTag) {
            uint64_t count;
            ssize_t r = read(wake_.get(), &count, sizeof(count));
            (void)r;
            continue;
        }
        if (tag == signalTag) {
            dispatchSignals();
            ++ran;
            continue;
        }
        auto it = watches_.find(tag);
        if (it == watches_.end())
            continue; // removed by an earlier callback of this round
        if (it->second.kind == Kind::Fd) {
            auto cb = it->second.fdCb;
            cb(events[i].events);
        } else if (it->second.kind == Kind::Child) {
            Child *child = it->second.child;
            auto cb = std::move(it->second.childCb);
            remove(tag);
            // pidfd readable means the process exited: reaping cannot block.
            ExitStatus st = child->wait();
            cb(st);
        }
        ++ran;
    }
    ran += runTimers();
    return ran;
}

void EventLoop::run()
{
    while (!quit_.load())
        runOnce();
    quit_.store(false);
}

} // namespace vd
