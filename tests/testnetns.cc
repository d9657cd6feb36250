#include <config.h>

#include "testnetns.h"

#include <cppunit/Exception.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"

namespace vd::test {

TestNetns::TestNetns(bool withVeth)
{
    if (!isRoot())
        skip("needs root to create a network namespace");
    ns_ = std::make_unique<NamedNetns>("vdt");
    ns_->ip({"link", "set", "lo", "up"});
    if (withVeth) {
        ns_->ip({"link", "add", parent(), "type", "veth", "peer", "name", peer()});
        ns_->ip({"link", "set", parent(), "up"});
        ns_->ip({"link", "set", peer(), "up"});
    }
}

TestNetns::~TestNetns() = default;

static void writeAll(int fd, const std::string &s)
{
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n <= 0)
            return;
        off += static_cast<size_t>(n);
    }
}

void TestNetns::run(const std::function<void()> &body, unsigned timeoutSec) const
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0)
        raiseSystem(errno, "pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    std::cout.flush();
    std::fflush(nullptr);
    pid_t parentPid = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0)
        raiseSystem(errno, "fork");
    if (pid == 0) {
        rd.reset();
        // Never outlive the test runner.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parentPid)
            ::_exit(1);
        std::string report;
        try {
            enterNetnsWithSysfs(path());
            body();
            report = "P";
        } catch (const CppUnit::Exception &e) {
            std::ostringstream ss;
            ss << "F" << e.what();
            if (e.sourceLine().isValid())
                ss << "\n  (child at " << e.sourceLine().fileName() << ":"
                   << e.sourceLine().lineNumber() << ")";
            report = ss.str();
        } catch (const Skip &s) {
            report = std::string("S") + s.what();
        } catch (const std::exception &e) {
            report = std::string("E") + e.what();
        } catch (...) {
            report = "Eunknown exception in child";
        }
        writeAll(wr.get(), report);
        ::_exit(0);
    }
    wr.reset();

    std::string report;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSec);
    bool timedOut = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            timedOut = true;
            break;
        }
        pollfd pfd{rd.get(), POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timedOut = r == 0;
            break;
        }
        char buf[4096];
        ssize_t n = ::read(rd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        report.append(buf, static_cast<size_t>(n));
    }
    if (timedOut)
        ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timedOut)
        CPPUNIT_FAIL("test body timed out after " + std::to_string(timeoutSec) + " s");
    if (report.empty()) {
        CPPUNIT_FAIL("test child died without reporting (status " + std::to_string(status) + ")");
    }
    switch (report[0]) {
    case 'P':
        return;
    case 'S':
        skip(report.substr(1));
    case 'F':
        CPPUNIT_FAIL(report.substr(1));
    default:
        CPPUNIT_FAIL("exception in test child: " + report.substr(1));
    }
}

std::vector<std::string> TestNetns::links() const
{
    std::string out;
    if (runIp({"-n", name(), "-o", "link", "show"}, {}, &out) != 0)
        throw std::runtime_error("ip link show failed: " + out);
    std::vector<std::string> names;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        // "3: vdp0@vdp1: <...>"
        auto a = line.find(": ");
        if (a == std::string::npos)
            continue;
        auto b = line.find_first_of(":@", a + 2);
        names.push_back(line.substr(a + 2, b - a - 2));
    }
    return names;
}

size_t countOpenFds()
{
    size_t n = 0;
    DIR *d = ::opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (auto *e = ::readdir(d))
        if (e->d_name[0] != '.')
            ++n;
    ::closedir(d);
    return n - 1; // the DIR's own fd
}

} // namespace vd::test
