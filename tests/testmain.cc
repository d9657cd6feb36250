// Runs every registered CppUnit suite (or the tests whose name contains one
// of the filter arguments) and ends with the summary line CI reads:
//   N passed, N failed, N skipped
//
//   vdtest [-v] [-j N] [--unit] [FILTER...]
//
// -j N runs the top-level suites in up to N forked worker processes (one
// process per suite, so a crash fails that suite only) and prints each
// suite's output as a block when it ends; the summary adds them all up.
// --unit (or VD_TEST_UNIT=1) is `make check-unit`: tests that need root or
// QEMU skip themselves (vd::test::isRoot() is false, test::hostQemu() skips).
// A filter that matches no test is an error: a typo must not pass.
#include <config.h>

#include <cppunit/Protector.h>
#include <cppunit/SourceLine.h>
#include <cppunit/TestFailure.h>
#include <cppunit/TestListener.h>
#include <cppunit/TestResult.h>
#include <cppunit/extensions/TestFactoryRegistry.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testutils.h"
#include "util/virgettext.h"

namespace {

struct Tally {
    unsigned passed = 0, failed = 0, skipped = 0;
    bool currentSkipped = false;
    bool currentFailed = false;
    std::string skipReason;

    void add(const Tally &o)
    {
        passed += o.passed;
        failed += o.failed;
        skipped += o.skipped;
    }
    std::string summary() const
    {
        return std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
               std::to_string(skipped) + " skipped";
    }
};

// Turns vd::test::Skip into a "skipped" mark rather than an error.
class SkipProtector : public CppUnit::Protector {
public:
    explicit SkipProtector(Tally &t) : tally_(t) {}
    bool protect(const CppUnit::Functor &functor, const CppUnit::ProtectorContext &) override
    {
        try {
            return functor();
        } catch (const vd::test::Skip &s) {
            tally_.currentSkipped = true;
            tally_.skipReason = s.what();
            return false;
        }
    }

private:
    Tally &tally_;
};

class Listener : public CppUnit::TestListener {
public:
    explicit Listener(Tally &t, bool verbose) : tally_(t), verbose_(verbose) {}

    void startTest(CppUnit::Test *) override
    {
        tally_.currentSkipped = false;
        tally_.currentFailed = false;
        start_ = std::chrono::steady_clock::now();
    }
    void addFailure(const CppUnit::TestFailure &failure) override
    {
        if (tally_.currentSkipped)
            return;
        tally_.currentFailed = true;
        const auto *e = failure.thrownException();
        std::cout << "FAIL: " << failure.failedTestName() << "\n";
        if (e) {
            if (failure.sourceLine().isValid())
                std::cout << "  at " << failure.sourceLine().fileName() << ":"
                          << failure.sourceLine().lineNumber() << "\n";
            std::cout << "  " << e->what() << "\n";
        }
    }
    void endTest(CppUnit::Test *test) override
    {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              start_)
                        .count();
        if (tally_.currentSkipped) {
            ++tally_.skipped;
            std::cout << "SKIP: " << test->getName() << " (" << tally_.skipReason << ")\n";
        } else if (tally_.currentFailed) {
            ++tally_.failed;
        } else {
            ++tally_.passed;
            if (verbose_)
                std::cout << "PASS: " << test->getName() << " (" << ms << " ms)\n";
        }
        std::cout.flush();
    }

private:
    Tally &tally_;
    bool verbose_;
    std::chrono::steady_clock::time_point start_;
};

struct Options {
    bool verbose = std::getenv("VIR_TEST_VERBOSE") != nullptr;
    unsigned jobs = 1;
    std::vector<std::string> filters;
};

// A top-level suite and the selected leaf tests under it.
struct Group {
    std::string suite;
    std::vector<CppUnit::Test *> tests;
};

bool matches(const std::string &name, const std::vector<std::string> &filters)
{
    if (filters.empty())
        return true;
    for (const auto &f : filters)
        if (name.find(f) != std::string::npos)
            return true;
    return false;
}

void collectLeaves(CppUnit::Test *t, const std::vector<std::string> &filters,
                   std::vector<CppUnit::Test *> &out)
{
    if (t->getChildTestCount() == 0) {
        if (matches(t->getName(), filters))
            out.push_back(t);
        return;
    }
    for (int i = 0; i < t->getChildTestCount(); ++i)
        collectLeaves(t->getChildTestAt(i), filters, out);
}

// One group per top-level suite (the registry's children), in registry order.
std::vector<Group> selectTests(CppUnit::Test *all, const std::vector<std::string> &filters)
{
    std::vector<Group> groups;
    for (int i = 0; i < all->getChildTestCount(); ++i) {
        Group g{all->getChildTestAt(i)->getName(), {}};
        collectLeaves(all->getChildTestAt(i), filters, g.tests);
        if (!g.tests.empty())
            groups.push_back(std::move(g));
    }
    return groups;
}

// The filters that select nothing (typos, renamed tests).
std::vector<std::string> unmatchedFilters(const std::vector<Group> &groups,
                                          const std::vector<std::string> &filters)
{
    std::vector<std::string> out;
    for (const auto &f : filters) {
        bool found = false;
        for (const auto &g : groups)
            for (const auto *t : g.tests)
                found = found || t->getName().find(f) != std::string::npos;
        if (!found)
            out.push_back(f);
    }
    return out;
}

Tally runTests(const std::vector<CppUnit::Test *> &tests, bool verbose)
{
    Tally tally;
    CppUnit::TestResult result;
    Listener listener(tally, verbose);
    result.addListener(&listener);
    // TestResult takes ownership of its protectors.
    result.pushProtector(std::make_unique<SkipProtector>(tally).release());
    for (auto *t : tests)
        t->run(&result);
    return tally;
}

// A worker process running one group, its output going to an unlinked file.
struct Worker {
    const Group *group = nullptr;
    int outFd = -1;
};

// The tally a worker printed as its last line; nullopt if it did not finish.
std::optional<Tally> parseSummary(const std::string &line)
{
    Tally t;
    if (std::sscanf(line.c_str(), "%u passed, %u failed, %u skipped", &t.passed, &t.failed,
                    &t.skipped) != 3)
        return std::nullopt;
    return t;
}

std::string readAll(int fd)
{
    std::string out;
    char buf[65536];
    ::lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

pid_t startWorker(const Group &g, bool verbose, int &outFd)
{
    char path[] = "/tmp/vdtest-XXXXXX";
    outFd = ::mkostemp(path, O_CLOEXEC);
    if (outFd < 0) {
        std::perror("vdtest: mkostemp");
        std::exit(2);
    }
    ::unlink(path);
    std::cout.flush();
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("vdtest: fork");
        std::exit(2);
    }
    if (pid == 0) {
        ::dup2(outFd, STDOUT_FILENO);
        ::dup2(outFd, STDERR_FILENO);
        ::close(outFd);
        Tally t = runTests(g.tests, verbose);
        std::cout << t.summary() << std::endl;
        std::fflush(nullptr);
        ::_exit(0);
    }
    return pid;
}

// Prints a finished worker's output (without its summary line) and returns
// its tally; a worker that died counts as one failure of its suite.
Tally reapWorker(const Worker &w, int status)
{
    std::string out = readAll(w.outFd);
    ::close(w.outFd);
    size_t cut = out.size() > 1 ? out.rfind('\n', out.size() - 2) : std::string::npos;
    std::string last = out.substr(cut == std::string::npos ? 0 : cut + 1);
    std::optional<Tally> t = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? parseSummary(last)
                                                                           : std::nullopt;
    if (t) {
        std::cout << out.substr(0, cut == std::string::npos ? 0 : cut + 1);
        return *t;
    }
    std::cout << out << "FAIL: " << w.group->suite << " (the test process "
              << (WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                      : "exited without a summary")
              << ")\n";
    Tally crashed;
    crashed.failed = 1;
    return crashed;
}

Tally runParallel(const std::vector<Group> &groups, const Options &opt)
{
    Tally total;
    std::deque<const Group *> queue;
    for (const auto &g : groups)
        queue.push_back(&g);
    std::map<pid_t, Worker> running;
    while (!queue.empty() || !running.empty()) {
        while (!queue.empty() && running.size() < opt.jobs) {
            Worker w{queue.front(), -1};
            queue.pop_front();
            pid_t pid = startWorker(*w.group, opt.verbose, w.outFd);
            running.emplace(pid, w);
        }
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            std::perror("vdtest: waitpid");
            std::exit(2);
        }
        auto it = running.find(pid);
        if (it == running.end())
            continue; // not a worker (a test's stray child reparented to us)
        total.add(reapWorker(it->second, status));
        std::cout.flush();
        running.erase(it);
    }
    return total;
}

[[noreturn]] void usage(const char *why)
{
    std::cerr << "vdtest: " << why << "\nusage: vdtest [-v] [-j N] [--unit] [FILTER...]\n";
    std::exit(2);
}

Options parseOptions(int argc, char **argv)
{
    Options opt;
    if (const char *j = std::getenv("VD_TEST_JOBS"); j && *j)
        opt.jobs = static_cast<unsigned>(std::strtoul(j, nullptr, 10));
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-v" || a == "--verbose") {
            opt.verbose = true;
        } else if (a == "--unit") {
            ::setenv("VD_TEST_UNIT", "1", 1);
        } else if (a == "-j" || a.rfind("-j", 0) == 0) {
            std::string n = a.size() > 2 ? a.substr(2) : (i + 1 < argc ? argv[++i] : "");
            opt.jobs = n.empty() ? 0 : static_cast<unsigned>(std::strtoul(n.c_str(), nullptr, 10));
            if (opt.jobs == 0)
                usage("-j needs a positive number");
        } else if (!a.empty() && a[0] == '-') {
            usage(("unknown option " + a).c_str());
        } else {
            opt.filters.push_back(a);
        }
    }
    if (opt.jobs == 0)
        opt.jobs = std::max(1u, std::thread::hardware_concurrency());
    return opt;
}

} // namespace

int main(int argc, char **argv)
{
    vd::initGettext();
    Options opt = parseOptions(argc, argv);

    std::unique_ptr<CppUnit::Test> all(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
    std::vector<Group> groups = selectTests(all.get(), opt.filters);
    std::vector<std::string> unmatched = unmatchedFilters(groups, opt.filters);
    for (const auto &f : unmatched)
        std::cout << "FAIL: the filter '" << f << "' matches no test\n";

    Tally tally;
    if (opt.jobs > 1 && groups.size() > 1) {
        tally = runParallel(groups, opt);
    } else {
        std::vector<CppUnit::Test *> tests;
        for (const auto &g : groups)
            tests.insert(tests.end(), g.tests.begin(), g.tests.end());
        tally = runTests(tests, opt.verbose);
    }
    tally.failed += static_cast<unsigned>(unmatched.size());

    std::cout << tally.summary() << std::endl;
    return tally.failed == 0 ? 0 : 1;
}
