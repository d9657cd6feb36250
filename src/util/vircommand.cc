#include <config.h>

#include "util/vircommand.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "util/virerror.h"

extern char **environ;

namespace vd {

using namespace std::chrono;

// ---- ExitStatus -----------------------------------------------------------

bool ExitStatus::exited() const { return WIFEXITED(raw); }
int ExitStatus::exitCode() const { return WEXITSTATUS(raw); }
bool ExitStatus::signaled() const { return WIFSIGNALED(raw); }
int ExitStatus::signal() const { return WTERMSIG(raw); }

std::string ExitStatus::describe() const
{
    // libvirt's wording (virProcessTranslateStatus).
    if (exited())
        return strprintf(_("exit status %d"), exitCode());
    if (signaled())
        return strprintf(_("fatal signal %d"), signal());
    return strprintf(_("invalid value %d"), raw);
}

// ---- Child ----------------------------------------------------------------

Child::Child(Child &&other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)),
      status_(std::exchange(other.status_, std::nullopt)), grace_(other.grace_)
{
}

Child &Child::operator=(Child &&other) noexcept
{
    if (this != &other) {
        reset();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::move(other.pidfd_);
        status_ = std::exchange(other.status_, std::nullopt);
        grace_ = other.grace_;
    }
    return *this;
}

Child::~Child() { reset(); }

void Child::reset() noexcept
{
    if (running()) {
        try {
            terminate(grace_);
        } catch (...) {
            // Destructors must not throw; the best we can do is SIGKILL.
            ::kill(pid_, SIGKILL);
            int st;
            while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
            }
        }
    }
    pid_ = -1;
    pidfd_.reset();
    status_.reset();
}

void Child::kill(int sig)
{
    if (!running())
        return;
    int rc;
    if (pidfd_)
        rc = static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0));
    else
        rc = ::kill(pid_, sig);
    if (rc < 0 && errno != ESRCH)
        raiseSystem(errno, strprintf(_("Failed to kill process %lld"),
                                     static_cast<long long>(pid_)));
}

// Record the status of a reaped child.  ECHILD means someone else reaped it
// (SIGCHLD ignored): treat it as gone with an unknown status.
static std::optional<ExitStatus> reap(pid_t pid, bool block)
{
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, block ? 0 : WNOHANG);
        if (r == pid)
            return ExitStatus{st};
        if (r == 0)
            return std::nullopt;
        if (errno == EINTR)
            continue;
        if (errno == ECHILD)
            return ExitStatus{0};
        raiseSystem(errno, strprintf(_("Failed to wait for process %lld"),
                                     static_cast<long long>(pid)));
    }
}

bool Child::tryWait()
{
    if (pid_ <= 0)
        return false;
    if (!status_)
        status_ = reap(pid_, false);
    return status_.has_value();
}

std::optional<ExitStatus> Child::waitFor(milliseconds timeout)
{
    if (pid_ <= 0)
        raiseInternal(_("no child process to wait for"));
    if (status_ || tryWait())
        return status_;
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
        if (left.count() < 0)
            left = milliseconds(0);
        if (pidfd_) {
            pollfd p{pidfd_.get(), POLLIN, 0};
            int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)));
            if (rc < 0 && errno != EINTR)
                raiseSystem(errno, _("Failed to poll process file descriptor"));
        } else {
            std::this_thread::sleep_for(std::min(left, milliseconds(5)));
        }
        if (tryWait())
            return status_;
        if (steady_clock::now() >= deadline)
            return std::nullopt;
    }
}

ExitStatus Child::wait()
{
    if (pid_ <= 0)
        raiseInternal(_("no child process to wait for"));
    if (!status_)
        status_ = reap(pid_, true);
    return *status_;
}

ExitStatus Child::terminate(milliseconds grace)
{
    if (pid_ <= 0)
        raiseInternal(_("no child process to terminate"));
    if (!running())
        return *status_;
    kill(SIGTERM);
    if (auto st = waitFor(grace))
        return *st;
    kill(SIGKILL);
    return wait();
}

pid_t Child::detach() noexcept
{
    pid_t pid = std::exchange(pid_, -1);
    pidfd_.reset();
    status_.reset();
    return pid;
}

// ---- Command --------------------------------------------------------------

Command::Command(std::string program, std::vector<std::string> args)
    : program_(std::move(program)), args_(std::move(args))
{
}

Command &Command::arg(std::string a)
{
    args_.push_back(std::move(a));
    return *this;
}

Command &Command::args(const std::vector<std::string> &more)
{
    args_.insert(args_.end(), more.begin(), more.end());
    return *this;
}

Command &Command::passFd(int childFd, int parentFd)
{
    if (childFd < 0 || parentFd < 0)
        raiseInternal(strprintf(_("invalid file descriptor mapping %d -> %d"), parentFd, childFd));
    for (auto &m : fds_)
        if (m.first == childFd) {
            m.second = parentFd;
            return *this;
        }
    fds_.emplace_back(childFd, parentFd);
    return *this;
}

Command &Command::setLogFile(std::string path)
{
    logFile_ = std::move(path);
    return *this;
}

Command &Command::setEnv(std::vector<std::string> env)
{
    env_ = std::move(env);
    return *this;
}

Command &Command::addEnv(std::string keyValue)
{
    extraEnv_.push_back(std::move(keyValue));
    return *this;
}

Command &Command::setWorkingDir(std::string dir)
{
    workingDir_ = std::move(dir);
    return *this;
}

Command &Command::setNewSession(bool on)
{
    newSession_ = on;
    return *this;
}

Command &Command::setKillOnParentDeath(bool on)
{
    killOnParentDeath_ = on;
    return *this;
}

std::string findProgramInPath(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return name;
    const char *path = std::getenv("PATH");
    std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    size_t start = 0;
    for (;;) {
        size_t end = dirs.find(':', start);
        std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
        if (dir.empty())
            dir = ".";
        std::string candidate = dir + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    raiseSystem(ENOENT, strprintf(_("Cannot find '%s' in path"), name.c_str()));
}

namespace {

// What the child reports through the error pipe when a step fails.
enum class ChildStep : int { Dup = 1, CloseRange, Signals, Session, ParentDeath, Chdir, Exec };

struct ChildFailure {
    ChildStep step;
    int err;
};

[[noreturn]] void childFail(int errFd, ChildStep step)
{
    ChildFailure f{step, errno};
    ssize_t ignored = write(errFd, &f, sizeof(f));
    (void)ignored;
    _exit(127);
}

// Everything the child does between fork() and exec(): only system calls,
// no allocation, no locks (the parent may be multi-threaded).
[[noreturn]] void childMain(int errFd, const std::vector<std::pair<int, int>> &fds, int maxChildFd,
                            const char *path, char *const *argv, char *const *envp,
                            bool newSession, bool killOnParentDeath, pid_t parentPid,
                            const char *workingDir)
{
    // Move every source fd and the error pipe above all target numbers
    // first, so a dup2 into a target can never clobber a source still needed.
    int high = maxChildFd + 1;
    int movedErrFd = fcntl(errFd, F_DUPFD_CLOEXEC, high);
    if (movedErrFd < 0)
        childFail(errFd, ChildStep::Dup);
    errFd = movedErrFd;
    // At most a few dozen mappings; a fixed array avoids allocation.
    constexpr size_t maxFds = 1024;
    int moved[maxFds];
    size_t n = fds.size();
    if (n > maxFds) {
        errno = EMFILE;
        childFail(errFd, ChildStep::Dup);
    }
    for (size_t i = 0; i < n; ++i) {
        moved[i] = fcntl(fds[i].second, F_DUPFD_CLOEXEC, high);
        if (moved[i] < 0)
            childFail(errFd, ChildStep::Dup);
    }
    for (size_t i = 0; i < n; ++i)
        if (dup2(moved[i], fds[i].first) < 0) // dup2 clears close-on-exec
            childFail(errFd, ChildStep::Dup);
    // Close every number up to the highest target that is not a target ...
    for (int fd = 0; fd <= maxChildFd; ++fd) {
        bool wanted = false;
        for (size_t i = 0; i < n; ++i)
            wanted = wanted || fds[i].first == fd;
        if (!wanted)
            close(fd);
    }
    // ... and make everything above close on exec (the error pipe must
    // survive until exec succeeds, so mark rather than close).
    if (close_range(static_cast<unsigned>(high), ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            childFail(errFd, ChildStep::CloseRange);
        rlim_t lim = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur;
        for (int fd = high; static_cast<rlim_t>(fd) < lim; ++fd)
            if (fd != errFd)
                close(fd);
    }

    // Handlers are reset by exec, but ignored signals and the mask are
    // inherited: give the child a clean slate.  The raw system call reaches
    // the signals glibc reserves for itself (32, 33), which its sigaction()
    // refuses; we may have inherited them ignored from our own parent.
    struct KernelSigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)();
        uint64_t mask;
    } dfl{SIG_DFL, 0, nullptr, 0};
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(dfl.mask));
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, nullptr) < 0)
        childFail(errFd, ChildStep::Signals);

    if (newSession && setsid() < 0)
        childFail(errFd, ChildStep::Session);
    if (killOnParentDeath) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            childFail(errFd, ChildStep::ParentDeath);
        // The parent may have died before prctl took effect.
        if (getppid() != parentPid)
            _exit(127);
    }
    if (workingDir && chdir(workingDir) < 0)
        childFail(errFd, ChildStep::Chdir);
    execve(path, argv, envp);
    childFail(errFd, ChildStep::Exec);
}

std::string shellQuote(const std::string &s)
{
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789@%_-+=:,./") == std::string::npos)
        return s;
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out.push_back(c);
    }
    return out + "'";
}

} // namespace

std::string Command::toString() const
{
    std::string out = shellQuote(program_);
    for (const auto &a : args_)
        out += " " + shellQuote(a);
    return out;
}

Child Command::spawn() const
{
    std::string path = findProgramInPath(program_);

    // argv and envp are built before fork: the child must not allocate.
    std::vector<std::string> argStore;
    argStore.push_back(program_);
    argStore.insert(argStore.end(), args_.begin(), args_.end());
    std::vector<char *> argv;
    for (auto &a : argStore)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> envStore;
    if (env_) {
        envStore = *env_;
    } else {
        for (char **e = environ; e && *e; ++e)
            envStore.emplace_back(*e);
    }
    for (const auto &kv : extraEnv_) {
        std::string key = kv.substr(0, kv.find('='));
        std::erase_if(envStore, [&](const std::string &e) {
            return e.compare(0, key.size() + 1, key + "=") == 0;
        });
        envStore.push_back(kv);
    }
    std::vector<char *> envp;
    for (auto &e : envStore)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    // Standard streams default to /dev/null (stdout/stderr: the log file).
    auto fds = fds_;
    auto mapped = [&](int n) {
        return std::any_of(fds.begin(), fds.end(), [n](auto &m) { return m.first == n; });
    };
    UniqueFd devNull(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devNull)
        raiseSystem(errno, _("cannot open /dev/null"));
    UniqueFd log;
    if (logFile_) {
        log.reset(open(logFile_->c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
        if (!log)
            raiseSystem(errno, strprintf(_("cannot open log file '%s'"), logFile_->c_str()));
    }
    if (!mapped(0))
        fds.emplace_back(0, devNull.get());
    for (int n : {1, 2})
        if (!mapped(n))
            fds.emplace_back(n, log ? log.get() : devNull.get());
    int maxChildFd = 0;
    for (const auto &m : fds) {
        maxChildFd = std::max(maxChildFd, m.first);
        if (fcntl(m.second, F_GETFD) < 0)
            raiseSystem(errno, strprintf(_("cannot pass file descriptor %d to %s"), m.second,
                                         program_.c_str()));
    }

    int errPipe[2];
    if (pipe2(errPipe, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd errRead(errPipe[0]), errWrite(errPipe[1]);

    // Block signals across fork so no handler of ours runs in the child
    // before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parentPid = getpid();
    pid_t pid = fork();
    if (pid == 0)
        childMain(errWrite.get(), fds, maxChildFd, path.c_str(), argv.data(), envp.data(),
                  newSession_, killOnParentDeath_, parentPid,
                  workingDir_ ? workingDir_->c_str() : nullptr);
    int forkErrno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0)
        raiseSystem(forkErrno, strprintf(_("cannot fork child process %s"), program_.c_str()));

    errWrite.reset();
    // pidfd_open on our unreaped child cannot race with PID reuse.
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    Child child(pid, std::move(pidfd));

    ChildFailure failure{};
    ssize_t got;
    while ((got = read(errRead.get(), &failure, sizeof(failure))) < 0 && errno == EINTR) {
    }
    if (got == 0)
        return child; // exec succeeded: the pipe closed without a report
    child.wait();
    if (got != static_cast<ssize_t>(sizeof(failure)))
        raiseInternal(strprintf(_("child process %s failed before exec"), program_.c_str()));
    switch (failure.step) {
    case ChildStep::Exec:
        raiseSystem(failure.err, strprintf(_("cannot execute binary %s"), path.c_str()));
    case ChildStep::Chdir:
        raiseSystem(failure.err, strprintf(_("Unable to change to %s"),
                                           workingDir_ ? workingDir_->c_str() : ""));
    default:
        raiseSystem(failure.err, strprintf(_("cannot set up child process %s"),
                                           program_.c_str()));
    }
}

Command::Output Command::run(milliseconds timeout) const
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd readEnd(p[0]), writeEnd(p[1]);
    Command cmd(*this);
    cmd.logFile_.reset();
    cmd.passFd(1, writeEnd.get()).passFd(2, writeEnd.get());
    Child child = cmd.spawn();
    writeEnd.reset();

    auto deadline = steady_clock::now() + timeout;
    std::string output;
    char buf[4096];
    for (;;) {
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0)
            break;
        pollfd pfd{readEnd.get(), POLLIN, 0};
        int rc = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT32_MAX)));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            raiseSystem(errno, _("Failed to poll child output"));
        if (rc == 0)
            break;
        ssize_t n = read(readEnd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        output.append(buf, static_cast<size_t>(n));
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    auto st = child.waitFor(std::max(left, milliseconds(0)));
    if (!st) {
        child.terminate(milliseconds(1000));
        throw Error(VIR_ERR_OPERATION_TIMEOUT,
                    strprintf(_("command '%s' did not finish within %lld ms"),
                              toString().c_str(), static_cast<long long>(timeout.count())));
    }
    return Output{*st, std::move(output)};
}

std::string Command::runChecked(milliseconds timeout) const
{
    Output out = run(timeout);
    if (!out.status.success()) {
        std::string text = out.output;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
            text.pop_back();
        // libvirt's wording for a failing helper (virCommandWait).
        raiseInternal(strprintf(_("Child process (%s) unexpected %s: %s"), toString().c_str(),
                                out.status.describe().c_str(), text.c_str()));
    }
    return out.output;
}

} // namespace vd
