// A single-threaded event loop on epoll: fd watches, timers, child exits
// (pidfd) and signals (signalfd).
//
// The per-domain supervisor runs on it: QEMU's exit, the QMP socket, SIGTERM
// from the CLI and later a netlink socket watching the macvtap parents are
// all just watches.  Callbacks run on the loop's thread, one at a time, and
// may add or remove any watch (also their own) while running; a watch
// removed during a dispatch round is never called again, even if its event
// was already collected.  quit() and wakeup() are the only calls safe from
// other threads.
#pragma once

#include <sys/signalfd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "util/vircommand.h"
#include "util/virfile.h"

namespace vd {

class EventLoop {
public:
    using WatchId = uint64_t;
    using Clock = std::chrono::steady_clock;
    using Ms = std::chrono::milliseconds;

    // epoll event bits, for addFd()/updateFd() and the callback's argument.
    static constexpr uint32_t Readable = 0x001; // EPOLLIN
    static constexpr uint32_t Writable = 0x004; // EPOLLOUT
    static constexpr uint32_t Errored = 0x008;  // EPOLLERR (always reported)
    static constexpr uint32_t HungUp = 0x010;   // EPOLLHUP (always reported)

    EventLoop();
    // Unblocks the signals it blocked for addSignal().
    ~EventLoop();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    // Call `cb(revents)` whenever `fd` has one of `events`.  The fd stays
    // owned by the caller and must stay open until the watch is removed.
    WatchId addFd(int fd, uint32_t events, std::function<void(uint32_t revents)> cb);
    void updateFd(WatchId id, uint32_t events);

    // Call `cb` once after `delay`, or every `interval` when given.
    WatchId addTimer(Ms delay, std::function<void()> cb, std::optional<Ms> interval = {});

    // Call `cb(status)` once `child` exited (it is reaped first); the watch
    // then removes itself.  `child` must outlive the watch.
    WatchId addChild(Child &child, std::function<void(const ExitStatus &)> cb);

    // Deliver `signo` through a signalfd: it is blocked in the calling
    // thread (threads started later inherit that), and `cb` runs on the
    // loop like any other event instead of in a signal handler.
    WatchId addSignal(int signo, std::function<void(const signalfd_siginfo &)> cb);

    // Stop a watch; unknown ids (already removed) are ignored.
    void remove(WatchId id);
    bool contains(WatchId id) const { return watches_.count(id) != 0; }

    // Wait for events (at most `timeout`, forever when nullopt) and dispatch
    // one round.  Returns the number of callbacks run.
    unsigned runOnce(std::optional<Ms> timeout = std::nullopt);
    // Dispatch until quit().
    void run();
    // Make run() return after the current round; thread-safe.
    void quit();
    // Interrupt a waiting runOnce(); thread-safe.
    void wakeup();
    bool quitting() const noexcept { return quit_.load(); }

private:
    enum class Kind { Fd, Timer, Child, Signal };
    struct Watch {
        Kind kind = Kind::Fd;
        int fd = -1;
        uint32_t events = 0;
        std::function<void(uint32_t)> fdCb;
        std::function<void()> timerCb;
        Clock::time_point due;
        std::optional<Ms> interval;
        Child *child = nullptr;
        std::function<void(const ExitStatus &)> childCb;
        int signo = 0;
        std::function<void(const signalfd_siginfo &)> signalCb;
    };

    WatchId addEpollWatch(int fd, uint32_t events, Watch w);
    void epollDel(int fd);
    void refreshSignalFd();
    void dispatchSignals();
    unsigned runTimers();

    UniqueFd epoll_;
    UniqueFd wake_;   // eventfd
    UniqueFd signal_; // signalfd, created on first addSignal()
    sigset_t signalMask_;
    std::set<int> blockedByUs_;
    std::map<WatchId, Watch> watches_;
    WatchId nextId_ = 1;
    std::atomic<bool> quit_{false};
};

} // namespace vd
