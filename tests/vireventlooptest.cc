// Tests for vd::EventLoop: fd watches, timers, child exits, signals, and
// removing watches from inside callbacks.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/vireventloop.h"

using namespace std::chrono;
using vd::EventLoop;
using vd::UniqueFd;

namespace {

struct Pipe {
    UniqueFd r, w;
    Pipe()
    {
        int p[2];
        CPPUNIT_ASSERT(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        r.reset(p[0]);
        w.reset(p[1]);
    }
    void put(const char *s) { CPPUNIT_ASSERT(write(w.get(), s, strlen(s)) > 0); }
    std::string drain()
    {
        char buf[256];
        std::string out;
        ssize_t n;
        while ((n = read(r.get(), buf, sizeof(buf))) > 0)
            out.append(buf, static_cast<size_t>(n));
        return out;
    }
};

// Run the loop until `done` or the time is up.
void runUntil(EventLoop &loop, const std::function<bool()> &done, milliseconds limit = seconds(10))
{
    auto deadline = steady_clock::now() + limit;
    while (!done()) {
        CPPUNIT_ASSERT_MESSAGE("event did not arrive in time", steady_clock::now() < deadline);
        loop.runOnce(milliseconds(50));
    }
}

} // namespace

class VirEventLoopTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirEventLoopTest);
    CPPUNIT_TEST(testFdWatch);
    CPPUNIT_TEST(testRemoveOtherDuringDispatch);
    CPPUNIT_TEST(testHangup);
    CPPUNIT_TEST(testTimers);
    CPPUNIT_TEST(testPeriodicTimer);
    CPPUNIT_TEST(testChildExit);
    CPPUNIT_TEST(testSignal);
    CPPUNIT_TEST(testQuitFromOtherThread);
    CPPUNIT_TEST(testRunOnceTimeout);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFdWatch()
    {
        EventLoop loop;
        Pipe p;
        std::string got;
        auto id = loop.addFd(p.r.get(), EventLoop::Readable, [&](uint32_t ev) {
            CPPUNIT_ASSERT(ev & EventLoop::Readable);
            got += p.drain();
        });
        CPPUNIT_ASSERT_EQUAL(0u, loop.runOnce(milliseconds(0)));
        p.put("abc");
        CPPUNIT_ASSERT_EQUAL(1u, loop.runOnce(milliseconds(1000)));
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), got);
        // Writable interest instead: the write end is always writable.
        auto wid = loop.addFd(p.w.get(), EventLoop::Readable, [&](uint32_t ev) {
            CPPUNIT_ASSERT(ev & EventLoop::Writable);
            got += "W";
        });
        CPPUNIT_ASSERT_EQUAL(0u, loop.runOnce(milliseconds(0)));
        loop.updateFd(wid, EventLoop::Writable);
        CPPUNIT_ASSERT_EQUAL(1u, loop.runOnce(milliseconds(0)));
        CPPUNIT_ASSERT_EQUAL(std::string("abcW"), got);
        loop.remove(wid);
        loop.remove(id);
        loop.remove(id); // unknown ids are ignored
        p.put("x");
        CPPUNIT_ASSERT_EQUAL(0u, loop.runOnce(milliseconds(0)));
        CPPUNIT_ASSERT(!loop.contains(id));
    }

    void testRemoveOtherDuringDispatch()
    {
        EventLoop loop;
        Pipe a, b;
        int calls = 0;
        EventLoop::WatchId ida = 0, idb = 0;
        // Whichever runs first removes the other: only one may run.
        ida = loop.addFd(a.r.get(), EventLoop::Readable, [&](uint32_t) {
            ++calls;
            loop.remove(idb);
            loop.remove(ida);
        });
        idb = loop.addFd(b.r.get(), EventLoop::Readable, [&](uint32_t) {
            ++calls;
            loop.remove(ida);
            loop.remove(idb);
        });
        a.put("1");
        b.put("1");
        loop.runOnce(milliseconds(1000));
        loop.runOnce(milliseconds(0));
        CPPUNIT_ASSERT_EQUAL(1, calls);
    }

    void testHangup()
    {
        EventLoop loop;
        Pipe p;
        uint32_t seen = 0;
        loop.addFd(p.r.get(), EventLoop::Readable, [&](uint32_t ev) { seen = ev; });
        p.w.reset();
        loop.runOnce(milliseconds(1000));
        CPPUNIT_ASSERT(seen & EventLoop::HungUp);
    }

    void testTimers()
    {
        EventLoop loop;
        std::vector<int> order;
        auto t0 = steady_clock::now();
        loop.addTimer(milliseconds(60), [&] { order.push_back(2); });
        loop.addTimer(milliseconds(20), [&] { order.push_back(1); });
        auto cancelled = loop.addTimer(milliseconds(40), [&] { order.push_back(99); });
        loop.remove(cancelled);
        // A timer may add another from its callback.
        loop.addTimer(milliseconds(0), [&] {
            order.push_back(0);
            loop.addTimer(milliseconds(80), [&] { order.push_back(3); });
        });
        runUntil(loop, [&] { return order.size() == 4; });
        CPPUNIT_ASSERT((order == std::vector<int>{0, 1, 2, 3}));
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(80));
    }

    void testPeriodicTimer()
    {
        EventLoop loop;
        int ticks = 0;
        EventLoop::WatchId id = 0;
        auto t0 = steady_clock::now();
        id = loop.addTimer(
            milliseconds(10),
            [&] {
                if (++ticks == 5)
                    loop.remove(id);
            },
            milliseconds(10));
        runUntil(loop, [&] { return !loop.contains(id); });
        CPPUNIT_ASSERT_EQUAL(5, ticks);
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(50));
        CPPUNIT_ASSERT_THROW(loop.addTimer(milliseconds(1), [] {}, milliseconds(0)), vd::Error);
    }

    void testChildExit()
    {
        EventLoop loop;
        vd::Child quick = vd::Command("sh", {"-c", "exit 7"}).spawn();
        vd::Child slow = vd::Command("sleep", {"30"}).spawn();
        std::optional<vd::ExitStatus> quickStatus, slowStatus;
        auto qid = loop.addChild(quick, [&](const vd::ExitStatus &st) { quickStatus = st; });
        loop.addChild(slow, [&](const vd::ExitStatus &st) { slowStatus = st; });
        runUntil(loop, [&] { return quickStatus.has_value(); });
        CPPUNIT_ASSERT_EQUAL(7, quickStatus->exitCode());
        CPPUNIT_ASSERT(!quick.running());
        CPPUNIT_ASSERT(!loop.contains(qid)); // one-shot
        CPPUNIT_ASSERT(!slowStatus);
        slow.kill(SIGKILL);
        runUntil(loop, [&] { return slowStatus.has_value(); });
        CPPUNIT_ASSERT_EQUAL(SIGKILL, slowStatus->signal());
    }

    void testSignal()
    {
        sigset_t before;
        pthread_sigmask(SIG_SETMASK, nullptr, &before);
        CPPUNIT_ASSERT(!sigismember(&before, SIGUSR1));
        {
            EventLoop loop;
            int got = 0;
            pid_t sender = 0;
            loop.addSignal(SIGUSR1, [&](const signalfd_siginfo &si) {
                ++got;
                sender = static_cast<pid_t>(si.ssi_pid);
            });
            kill(getpid(), SIGUSR1);
            runUntil(loop, [&] { return got == 1; });
            CPPUNIT_ASSERT_EQUAL(getpid(), sender);
            // Still blocked while the loop lives.
            sigset_t now;
            pthread_sigmask(SIG_SETMASK, nullptr, &now);
            CPPUNIT_ASSERT(sigismember(&now, SIGUSR1));
            // A child's signal arrives too (from another process).
            vd::Command("sh", {"-c", "kill -USR1 " + std::to_string(getpid())}).runChecked();
            runUntil(loop, [&] { return got == 2; });
            // Pending at destruction: discarded, not delivered fatally.
            kill(getpid(), SIGUSR1);
        }
        sigset_t after;
        pthread_sigmask(SIG_SETMASK, nullptr, &after);
        CPPUNIT_ASSERT(!sigismember(&after, SIGUSR1));
    }

    void testQuitFromOtherThread()
    {
        EventLoop loop;
        std::thread t([&] {
            std::this_thread::sleep_for(milliseconds(50));
            loop.quit();
        });
        auto t0 = steady_clock::now();
        loop.run(); // no watches: only quit() can end it
        t.join();
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(40));
        // run() can be entered again after a quit.
        loop.addTimer(milliseconds(5), [&] { loop.quit(); });
        loop.run();
    }

    void testRunOnceTimeout()
    {
        EventLoop loop;
        auto t0 = steady_clock::now();
        CPPUNIT_ASSERT_EQUAL(0u, loop.runOnce(milliseconds(100)));
        CPPUNIT_ASSERT(steady_clock::now() - t0 >= milliseconds(95));
        // A pending timer shortens the wait: runOnce returns having fired it,
        // long before its own (one hour) timeout - a bound no load can miss.
        bool fired = false;
        loop.addTimer(milliseconds(20), [&] { fired = true; });
        t0 = steady_clock::now();
        loop.runOnce(hours(1));
        CPPUNIT_ASSERT(fired);
        CPPUNIT_ASSERT(steady_clock::now() - t0 < minutes(30));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirEventLoopTest);
