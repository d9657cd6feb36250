#include <config.h>

#include "virnetns.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/virerror.h"
#include "util/virfile.h"

extern char **environ;

namespace vd {

int runIp(const std::vector<std::string> &args, const std::string &input, std::string *output)
{
    int inPipe[2], outPipe[2];
    if (::pipe2(inPipe, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd inR(inPipe[0]), inW(inPipe[1]);
    if (::pipe2(outPipe, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd outR(outPipe[0]), outW(outPipe[1]);

    std::vector<std::string> argvS{IP_PATH};
    argvS.insert(argvS.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : argvS)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, inR.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, outW.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, outW.get(), 2);
    pid_t pid;
    int err = posix_spawn(&pid, IP_PATH, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        raiseSystem(err, strprintf(_("cannot run %s"), IP_PATH));
    inR.reset();
    outW.reset();

    // Feed stdin and drain stdout together, so that neither side can block
    // the other on a full pipe.  SIGPIPE (ip exiting before reading all its
    // input) is blocked meanwhile and discarded afterwards: EPIPE is enough.
    sigset_t pipeSet, oldSet;
    sigemptyset(&pipeSet);
    sigaddset(&pipeSet, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeSet, &oldSet);
    bool pipeWasPending = false;
    {
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            pipeWasPending = true;
    }
    size_t off = 0;
    std::string out;
    if (input.empty())
        inW.reset();
    while (inW || outR) {
        pollfd pfds[2];
        nfds_t n = 0;
        if (outR)
            pfds[n++] = {outR.get(), POLLIN, 0};
        if (inW)
            pfds[n++] = {inW.get(), POLLOUT, 0};
        if (::poll(pfds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (!pfds[i].revents)
                continue;
            if (outR && pfds[i].fd == outR.get()) {
                char buf[4096];
                ssize_t r = ::read(outR.get(), buf, sizeof(buf));
                if (r > 0)
                    out.append(buf, static_cast<size_t>(r));
                else if (r == 0 || errno != EINTR)
                    outR.reset();
            } else if (inW && pfds[i].fd == inW.get()) {
                ssize_t w = ::write(inW.get(), input.data() + off, input.size() - off);
                if (w > 0)
                    off += static_cast<size_t>(w);
                if ((w < 0 && errno != EINTR && errno != EAGAIN) || off >= input.size())
                    inW.reset(); // done, or ip stopped reading (EPIPE)
            }
        }
    }
    if (!pipeWasPending) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipeSet, nullptr, &zero) == SIGPIPE) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &oldSet, nullptr);

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (output)
        *output = std::move(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- cleanup on fatal signals ----------------------------------------------

namespace {
constexpr int kMaxNetns = 64;
// Paths of live namespaces, readable from a signal handler.
char gPaths[kMaxNetns][96];
std::atomic<bool> gUsed[kMaxNetns];
// The process that created each one: forked children (test bodies) inherit
// the table but must not delete their parent's namespaces.
std::atomic<pid_t> gOwner[kMaxNetns];
std::atomic<bool> gHandlersInstalled{false};

void onFatalSignal(int sig)
{
    for (int i = 0; i < kMaxNetns; ++i) {
        if (gUsed[i].load() && gOwner[i].load() == ::getpid()) {
            ::umount2(gPaths[i], MNT_DETACH); // async-signal-safe syscalls only
            ::unlink(gPaths[i]);
        }
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void installHandlers()
{
    if (gHandlersInstalled.exchange(true))
        return;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
        struct sigaction old{};
        ::sigaction(sig, nullptr, &old);
        if (old.sa_handler != SIG_DFL)
            continue; // someone else handles it; leave theirs alone
        struct sigaction sa{};
        sa.sa_handler = onFatalSignal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);
    }
}

int registerPath(const std::string &path)
{
    for (int i = 0; i < kMaxNetns; ++i) {
        if (!gUsed[i].load()) {
            std::snprintf(gPaths[i], sizeof(gPaths[i]), "%s", path.c_str());
            gOwner[i].store(::getpid());
            gUsed[i].store(true);
            return i;
        }
    }
    return -1;
}

void unregisterPath(const std::string &path)
{
    for (int i = 0; i < kMaxNetns; ++i)
        if (gUsed[i].load() && path == gPaths[i])
            gUsed[i].store(false);
}
} // namespace

// Namespaces "<prefix>-<pid>-<n>" whose creating process is gone were left
// behind by a run that was killed outright (SIGKILL, crash): remove them.
static void removeStale(const std::string &prefix)
{
    DIR *d = ::opendir("/run/netns");
    if (!d)
        return;
    std::vector<std::string> stale;
    while (auto *e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.compare(0, prefix.size() + 1, prefix + "-") != 0)
            continue;
        char *end = nullptr;
        long pid = std::strtol(n.c_str() + prefix.size() + 1, &end, 10);
        if (pid <= 0 || !end || *end != '-')
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) < 0 && errno == ESRCH)
            stale.push_back(n);
    }
    ::closedir(d);
    for (const auto &n : stale)
        runIp({"netns", "del", n});
}

NamedNetns::NamedNetns(const std::string &prefix)
{
    static std::atomic<unsigned> counter{0};
    static std::atomic<bool> staleRemoved{false};
    if (!staleRemoved.exchange(true))
        removeStale(prefix);
    name_ = prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    installHandlers();
    // Register before creating: a signal between the two finds nothing to
    // unmount and only unlinks a path that does not exist yet.
    registerPath(path());
    std::string out;
    if (runIp({"netns", "add", name_}, {}, &out) != 0) {
        unregisterPath(path());
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("cannot create network namespace %s: %s"), name_.c_str(), out.c_str()));
    }
}

NamedNetns::~NamedNetns()
{
    // runIp throws when ip cannot even be started (no fds, no memory); an
    // exception leaving a destructor would terminate the process and leave
    // the namespace behind.  Either way, fall back to what `ip netns del`
    // does.
    bool deleted = false;
    try {
        std::string out;
        deleted = runIp({"netns", "del", name_}, {}, &out) == 0;
    } catch (...) {
    }
    if (!deleted) {
        ::umount2(path().c_str(), MNT_DETACH);
        ::unlink(path().c_str());
    }
    unregisterPath(path());
}

void NamedNetns::ip(const std::vector<std::string> &args) const
{
    std::vector<std::string> all{"-n", name_};
    all.insert(all.end(), args.begin(), args.end());
    std::string out;
    if (runIp(all, {}, &out) != 0) {
        std::string cmd;
        for (const auto &a : all)
            cmd += " " + a;
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("'ip%s' failed: %s"), cmd.c_str(), out.c_str()));
    }
}

void NamedNetns::ipBatch(const std::string &commands) const
{
    std::string out;
    if (runIp({"-n", name_, "-batch", "-"}, commands, &out) != 0)
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("'ip -batch' failed in %s: %s"), name_.c_str(), out.c_str()));
}

void enterNetnsWithSysfs(const std::string &netnsPath)
{
    UniqueFd fd(::open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        raiseSystem(errno, strprintf(_("cannot open network namespace %s"), netnsPath.c_str()));
    if (::setns(fd.get(), CLONE_NEWNET) < 0)
        raiseSystem(errno, strprintf(_("cannot enter network namespace %s"), netnsPath.c_str()));
    // sysfs shows the network namespace of whoever mounted it: give this
    // process its own mount namespace and a sysfs of the new netns.
    if (::unshare(CLONE_NEWNS) < 0)
        raiseSystem(errno, _("cannot create a mount namespace"));
    if (::mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
        raiseSystem(errno, _("cannot make mounts private"));
    ::umount2("/sys", MNT_DETACH);
    if (::mount("sysfs", "/sys", "sysfs", 0, nullptr) < 0)
        raiseSystem(errno, _("cannot mount sysfs"));
}

} // namespace vd
