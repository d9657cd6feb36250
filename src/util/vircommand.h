// Spawning child processes (QEMU, ip, helper tools) with exact control of
// what they inherit.
//
// A child gets EXACTLY the file descriptors it was given, at the numbers it
// was given (plus stdin/stdout/stderr, which default to /dev/null): a
// management process holds netlink sockets, other guests' tap fds and lock
// files, and leaking any of them into QEMU would keep devices alive or let a
// guest touch another's network.  Everything the child needs is prepared
// before fork(), so the child only makes async-signal-safe system calls.
//
// Child is RAII: destroying a Child that was not waited for or detached
// terminates it (SIGTERM, then SIGKILL after a grace period) and reaps it, so
// a failing start never leaves a stray QEMU behind.  Signals go through a
// pidfd, so they can never hit a recycled PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "util/virfile.h"

namespace vd {

// How a child ended.
struct ExitStatus {
    int raw = 0; // as from waitpid()

    bool exited() const;          // called exit()
    int exitCode() const;         // valid when exited()
    bool signaled() const;        // killed by a signal
    int signal() const;           // valid when signaled()
    bool success() const { return exited() && exitCode() == 0; }
    // "exited with status 1", "killed by signal 9 (Killed)"
    std::string describe() const;
};

class Child {
public:
    Child() = default;
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    Child(Child &&other) noexcept;
    Child &operator=(Child &&other) noexcept;
    // Terminates (if still running and not detached) and reaps.
    ~Child();

    pid_t pid() const noexcept { return pid_; }
    // The pidfd, readable when the child exits (-1 if the kernel has none).
    // Owned by the Child; an event loop may watch it.
    int pidfd() const noexcept { return pidfd_.get(); }
    bool running() const noexcept { return pid_ > 0 && !status_; }
    const std::optional<ExitStatus> &status() const noexcept { return status_; }

    // Send a signal; a no-op once the child is reaped.
    void kill(int sig);
    // Reap if it already exited; true when it has.
    bool tryWait();
    // Wait up to `timeout`; the exit status, or nullopt if still running.
    std::optional<ExitStatus> waitFor(std::chrono::milliseconds timeout);
    // Wait without limit.
    ExitStatus wait();
    // SIGTERM, wait up to `grace`, then SIGKILL and reap.  Returns the status.
    ExitStatus terminate(std::chrono::milliseconds grace);
    // Grace period the destructor gives before SIGKILL (default 5 s).
    void setTerminateGrace(std::chrono::milliseconds grace) noexcept { grace_ = grace; }
    // Stop owning the process: it is neither killed nor reaped by us.
    pid_t detach() noexcept;

private:
    friend class Command;
    Child(pid_t pid, UniqueFd pidfd) noexcept : pid_(pid), pidfd_(std::move(pidfd)) {}
    void reset() noexcept;

    pid_t pid_ = -1;
    UniqueFd pidfd_;
    std::optional<ExitStatus> status_;
    std::chrono::milliseconds grace_{5000};
};

class Command {
public:
    // `program` is a path or a name looked up in $PATH (at spawn time, in the
    // parent).  args are the arguments after argv[0].
    explicit Command(std::string program, std::vector<std::string> args = {});

    Command &arg(std::string a);
    Command &args(const std::vector<std::string> &more);
    // Inherit `parentFd` as fd number `childFd` (close-on-exec cleared).  The
    // parent's fd stays open and owned by the caller; mapping several child
    // numbers to one parent fd is allowed.  0, 1 and 2 may be mapped too.
    Command &passFd(int childFd, int parentFd);
    // Append stdout and stderr to `path` (created 0600).
    Command &setLogFile(std::string path);
    // Replace the environment (default: inherit ours).
    Command &setEnv(std::vector<std::string> env);
    Command &addEnv(std::string keyValue);
    Command &setWorkingDir(std::string dir);
    // Start a new session (and process group) so terminal signals aimed at
    // us do not reach the child, and we can signal its whole group.  Default on.
    Command &setNewSession(bool on);
    // Kill the child with SIGKILL if the spawning thread dies (prctl
    // PR_SET_PDEATHSIG).  Default off.
    Command &setKillOnParentDeath(bool on);

    // Fork and exec.  Throws SystemError when the program cannot be found or
    // executed (the errno of the failed exec is reported back through a pipe),
    // in which case nothing is left running.
    Child spawn() const;

    struct Output {
        ExitStatus status;
        std::string output; // stdout and stderr interleaved
    };
    // Run to completion capturing stdout+stderr (stdin is /dev/null); kills
    // the child and throws VIR_ERR_OPERATION_TIMEOUT after `timeout`.
    Output run(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
    // run(), throwing VIR_ERR_OPERATION_FAILED with the output unless it exits 0.
    std::string runChecked(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

    // Shell-like rendering for logs and error messages.
    std::string toString() const;

private:
    std::string program_;
    std::vector<std::string> args_;
    std::vector<std::pair<int, int>> fds_; // child number -> parent fd
    std::optional<std::string> logFile_;
    std::optional<std::vector<std::string>> env_;
    std::vector<std::string> extraEnv_;
    std::optional<std::string> workingDir_;
    bool newSession_ = true;
    bool killOnParentDeath_ = false;
};

// Resolve a program name through $PATH like execvp would; throws
// SystemError(ENOENT) "Cannot find 'x' in path".
std::string findProgramInPath(const std::string &name);

} // namespace vd
