#include <config.h>

#include "qemu/qemu_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>

#include "util/virerror.h"
#include "util/virfault.h"
#include "util/virfile.h"

namespace vd::qemu {

using namespace std::chrono;

// ---- configuration ------------------------------------------------------------

JsonValue SupervisorConfig::toJson() const
{
    JsonValue args = JsonValue::array();
    for (const auto &a : argv)
        args.append(a);
    JsonValue fds = JsonValue::array();
    for (int fd : passFds)
        fds.append(fd);
    JsonValue cmds = JsonValue::array();
    for (const auto &c : startupCommands)
        cmds.append(c);
    return JsonValue::object({{"name", name},
                              {"argv", args},
                              {"passFds", fds},
                              {"monitorSocket", monitorSocket},
                              {"controlSocket", controlSocket},
                              {"stateFile", stateFile},
                              {"qemuLog", qemuLog},
                              {"startupCommands", cmds},
                              {"monitorTimeoutMs", monitorTimeout.count()},
                              {"shutdownTimeoutMs", shutdownTimeout.count()},
                              {"holdPassFds", holdPassFds},
                              {"state", state}});
}

SupervisorConfig SupervisorConfig::fromJson(const JsonValue &json)
{
    SupervisorConfig c;
    c.name = json.get("name").asString();
    for (const auto &a : json.get("argv").asArray())
        c.argv.push_back(a.asString());
    if (c.argv.empty())
        raiseInternal(_("supervisor configuration has an empty QEMU command line"));
    for (const auto &fd : json.get("passFds").asArray()) {
        int64_t n = fd.asInt();
        if (n < 3 || n > INT32_MAX)
            raiseInternal(strprintf(_("supervisor configuration passes invalid fd %lld"),
                                    static_cast<long long>(n)));
        c.passFds.push_back(static_cast<int>(n));
    }
    c.monitorSocket = json.get("monitorSocket").asString();
    c.controlSocket = json.get("controlSocket").asString();
    c.stateFile = json.get("stateFile").asString();
    c.qemuLog = json.get("qemuLog").asString();
    if (const JsonValue *cmds = json.find("startupCommands"))
        for (const auto &cmd : cmds->asArray()) {
            cmd.get("execute").asString(); // validate early
            c.startupCommands.push_back(cmd);
        }
    if (const JsonValue *t = json.find("monitorTimeoutMs"))
        c.monitorTimeout = milliseconds(t->asInt());
    if (const JsonValue *t = json.find("shutdownTimeoutMs"))
        c.shutdownTimeout = milliseconds(t->asInt());
    if (const JsonValue *h = json.find("holdPassFds"))
        c.holdPassFds = h->asBool();
    if (const JsonValue *s = json.find("state"))
        c.state = *s;
    return c;
}

// ---- the supervisor -------------------------------------------------------------

struct Supervisor::ControlClient {
    UniqueFd fd;
    std::string inbuf;
    std::deque<UniqueFd> fds; // received with SCM_RIGHTS, for the next command
    EventLoop::WatchId watch = 0;
};

namespace {

std::string dirName(const std::string &path)
{
    size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void unlinkIfSet(const std::string &path)
{
    if (!path.empty())
        unlink(path.c_str());
}

// The last lines of QEMU's log, for start-up errors (QEMU explains there
// why it refused to start).
std::string logTail(const std::string &path)
{
    if (path.empty())
        return "";
    std::string text;
    try {
        text = readFile(path);
    } catch (const Error &) {
        return "";
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    constexpr size_t maxTail = 1024;
    if (text.size() > maxTail) {
        text.erase(0, text.size() - maxTail);
        size_t nl = text.find('\n');
        if (nl != std::string::npos)
            text.erase(0, nl + 1);
    }
    return text;
}

// A SIGINT, SIGTERM or SIGHUP is waiting: the caller blocked them to finish
// or cancel cleanly what it is doing instead of dying in the middle.
bool terminationPending()
{
    sigset_t pending;
    if (sigpending(&pending) < 0)
        return false;
    return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
           sigismember(&pending, SIGHUP) == 1;
}

// Write all of `line` to a (non-blocking) socket; false if the peer is gone
// or does not read within a second.  Sockets get MSG_NOSIGNAL (no SIGPIPE
// for the CLI); anything else (the ready report may go to a file or pipe
// when a script runs the supervisor) gets a plain write().
bool sendLine(int fd, const std::string &line)
{
    size_t done = 0;
    bool socket = true;
    while (done < line.size()) {
        ssize_t n = socket ? send(fd, line.data() + done, line.size() - done, MSG_NOSIGNAL)
                           : write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == ENOTSOCK && socket) {
            socket = false;
            continue;
        }
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, 1000) == 1)
                continue;
        }
        return false;
    }
    return true;
}

} // namespace

Supervisor::Supervisor(SupervisorConfig config) : config_(std::move(config)) {}

Supervisor::~Supervisor() = default;

void Supervisor::log(const std::string &message) const
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    char stamp[64];
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &t);
    std::fprintf(stderr, "%s.%03ld+0000: %s: %s\n", stamp, ts.tv_nsec / 1000000,
                 config_.name.c_str(), message.c_str());
    std::fflush(stderr);
}

JsonValue Supervisor::runtimeState() const
{
    return JsonValue::object({{"name", config_.name},
                              {"supervisorPid", static_cast<int64_t>(getpid())},
                              {"qemuPid", static_cast<int64_t>(qemu_.pid())},
                              {"monitorSocket", config_.monitorSocket},
                              {"controlSocket", config_.controlSocket},
                              {"qemuLog", config_.qemuLog},
                              {"state", config_.state}});
}

void Supervisor::updateState(JsonValue state)
{
    if (!state.isObject())
        raiseInternal(_("the domain state must be a JSON object"));
    config_.state = std::move(state);
    writeFileAtomic(config_.stateFile, runtimeState().toString() + "\n", 0600);
}

void Supervisor::start()
{
    for (int fd : config_.passFds)
        if (fd < 3 || fcntl(fd, F_GETFD) < 0)
            raiseInternal(strprintf(_("file descriptor %d for QEMU was not passed to the "
                                      "supervisor"),
                                    fd));
    if (config_.monitorSocket.empty() || config_.controlSocket.empty() || config_.stateFile.empty())
        raiseInternal(_("supervisor configuration lacks a socket or state file path"));
    makePath(dirName(config_.stateFile), 0700);
    makePath(dirName(config_.controlSocket), 0700);

    Command cmd(config_.argv[0],
                std::vector<std::string>(config_.argv.begin() + 1, config_.argv.end()));
    for (int fd : config_.passFds)
        cmd.passFd(fd, fd);
    if (!config_.qemuLog.empty())
        cmd.setLogFile(config_.qemuLog);
    // QEMU must not outlive us unnoticed: nobody would tear down after it.
    cmd.setNewSession(false).setKillOnParentDeath(true);
    log("starting " + cmd.toString());
    faultPoint("qemu-exec");
    qemu_ = cmd.spawn();
    qemu_.setTerminateGrace(config_.shutdownTimeout);
    // QEMU holds the tap fds now.  With holdPassFds we keep our copies: the
    // kernel's release of a macvtap queue costs ~10 ms per fd, and if QEMU
    // held the last reference it would pay that serially while exiting.
    // The teardown releases them in parallel instead (takeHeldFds()).
    for (int fd : config_.passFds) {
        if (config_.holdPassFds)
            heldFds_.emplace_back(fd);
        else
            close(fd);
    }

    try {
        monitor_ = std::make_unique<Monitor>(
            Monitor::connect(config_.monitorSocket, config_.monitorTimeout, [this] {
                // SIGTERM/SIGINT wait in the signalfd until the loop runs;
                // honour them now, so a cancelled start still tears down.
                sigset_t pending;
                if (sigpending(&pending) == 0 &&
                    (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)))
                    throw Error(VIR_ERR_OPERATION_ABORTED,
                                strprintf(_("start of domain '%s' was cancelled"),
                                          config_.name.c_str()),
                                VIR_FROM_QEMU);
                return !qemu_.tryWait();
            }));
    } catch (const Error &e) {
        if (e.code() != VIR_ERR_OPERATION_ABORTED && qemu_.tryWait()) {
            // libvirt's wording, with QEMU's own explanation from its log.
            raiseInternal(strprintf(_("process exited while connecting to monitor: %s"),
                                    logTail(config_.qemuLog).c_str()));
        }
        throw;
    }
    monitor_->setCommandTimeout(config_.monitorTimeout);
    faultPoint("qmp-handshake");
    if (qemuUp_)
        qemuUp_(config_);
    faultPoint("qmp-startup-commands");
    for (const auto &c : config_.startupCommands) {
        const JsonValue *args = c.find("arguments");
        monitor_->execute(c.get("execute").asString(), args ? *args : JsonValue());
    }
    // Events read together with the replies (RESUME after "cont") are
    // already off the socket: log them now, not at the next readable event.
    for (const auto &ev : monitor_->takeEvents())
        log("QEMU event: " + ev.toString());

    controlListener_ = createMonitorListener(config_.controlSocket);
    chmod(config_.controlSocket.c_str(), 0600);
    faultPoint("state-write");
    writeFileAtomic(config_.stateFile, runtimeState().toString() + "\n", 0600);
    faultPoint("supervisor-ready");

    loop_.addChild(qemu_, [this](const ExitStatus &st) { onQemuExit(st); });
    monitorWatch_ = loop_.addFd(monitor_->fd(), EventLoop::Readable,
                                [this](uint32_t) { onMonitorReadable(); });
    controlWatch_ = loop_.addFd(controlListener_.get(), EventLoop::Readable,
                                [this](uint32_t) { acceptControlClient(); });
}

void Supervisor::stopQemuNow(milliseconds grace)
{
    for (EventLoop::WatchId *w : {&monitorWatch_, &killTimer_}) {
        if (*w)
            loop_.remove(*w);
        *w = 0;
    }
    if (qemu_.running()) {
        try {
            qemu_.terminate(grace);
        } catch (const Error &e) {
            log(std::string("cannot stop QEMU: ") + e.what());
        }
    }
    monitor_.reset();
    exitStatus_ = qemu_.status() ? *qemu_.status() : ExitStatus{};
}

void Supervisor::failStart(const Error &err, int readyFd)
{
    log(std::string("start failed: ") + err.what());
    stopQemuNow(milliseconds(3000));
    finish();
    JsonValue msg = JsonValue::object(
        {{"error", JsonValue::object({{"code", static_cast<int64_t>(err.code())},
                                      {"message", err.detail()}})}});
    sendLine(readyFd, msg.toString() + "\n");
    close(readyFd);
}

void Supervisor::finish()
{
    if (tornDown_)
        return;
    tornDown_ = true;
    // No new control clients; the connected ones stay until the end, so
    // their EOF tells them that teardown is complete (see vd-destroy).
    if (controlWatch_)
        loop_.remove(controlWatch_);
    controlListener_.reset();
    unlinkIfSet(config_.controlSocket);
    // QEMU removes its socket on a clean exit, not when killed.
    unlinkIfSet(config_.monitorSocket);
    if (teardown_) {
        try {
            teardown_(config_, exitStatus_.value_or(ExitStatus{}));
        } catch (const std::exception &e) {
            log(std::string("teardown failed: ") + e.what());
        }
    }
    // Last: while the state file exists the domain counts as running and a
    // new start of it is refused; removing anything after it could remove
    // the files of that new start (same paths).
    unlinkIfSet(config_.stateFile);
    for (auto &c : controlClients_)
        loop_.remove(c->watch);
    controlClients_.clear();
}

void Supervisor::onQemuExit(const ExitStatus &status)
{
    exitStatus_ = status;
    log("QEMU " + std::to_string(qemu_.pid()) + " ended: " + status.describe());
    if (monitorWatch_)
        loop_.remove(monitorWatch_);
    monitorWatch_ = 0;
    if (killTimer_)
        loop_.remove(killTimer_);
    monitor_.reset();
    loop_.quit();
}

void Supervisor::onMonitorReadable()
{
    bool open = monitor_->readPending();
    for (const auto &ev : monitor_->takeEvents())
        log("QEMU event: " + ev.toString());
    if (!open) {
        // QEMU closed the monitor; its exit (pidfd) follows.
        loop_.remove(monitorWatch_);
        monitorWatch_ = 0;
    }
}

void Supervisor::destroyQemu()
{
    if (!qemu_.running() || killTimer_)
        return;
    log("destroying QEMU " + std::to_string(qemu_.pid()));
    qemu_.kill(SIGTERM);
    killTimer_ = loop_.addTimer(config_.shutdownTimeout, [this] {
        killTimer_ = 0;
        log("QEMU ignored SIGTERM, killing it");
        qemu_.kill(SIGKILL);
    });
}

void Supervisor::acceptControlClient()
{
    UniqueFd fd(accept4(controlListener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd)
        return; // EAGAIN or a client that already left
    JsonValue greeting = JsonValue::object(
        {{"QMP", monitor_ ? monitor_->greeting().get("QMP") : JsonValue::object()},
         {"virt-direct", runtimeState()}});
    if (!sendLine(fd.get(), greeting.toString() + "\r\n"))
        return;
    auto client = std::make_unique<ControlClient>();
    client->fd = std::move(fd);
    ControlClient *raw = client.get();
    client->watch = loop_.addFd(raw->fd.get(), EventLoop::Readable,
                                [this, raw](uint32_t) { onControlReadable(raw); });
    controlClients_.push_back(std::move(client));
}

void Supervisor::dropControlClient(ControlClient *client)
{
    loop_.remove(client->watch);
    std::erase_if(controlClients_, [client](const auto &c) { return c.get() == client; });
}

void Supervisor::onControlReadable(ControlClient *client)
{
    bool eof = false;
    for (;;) {
        char buf[8192];
        iovec iov{buf, sizeof(buf)};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(client->fd.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            eof = true;
            break;
        }
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                client->fds.emplace_back(fd);
            }
        }
        client->inbuf.append(buf, static_cast<size_t>(n));
        if (client->inbuf.size() > 16 * 1024 * 1024) {
            eof = true;
            break;
        }
    }

    size_t nl;
    while ((nl = client->inbuf.find('\n')) != std::string::npos) {
        std::string line = client->inbuf.substr(0, nl);
        client->inbuf.erase(0, nl + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        JsonValue reply;
        JsonValue request;
        try {
            request = JsonValue::parse(line);
            UniqueFd fd;
            if (!client->fds.empty()) {
                fd = std::move(client->fds.front());
                client->fds.pop_front();
            }
            reply = JsonValue::object({{"return", handleControlCommand(request, fd.get())}});
        } catch (const MonitorError &e) {
            reply = JsonValue::object({{"error", JsonValue::object({{"class", e.qmpClass()},
                                                                    {"desc", e.desc()}})}});
        } catch (const Error &e) {
            reply = JsonValue::object({{"error", JsonValue::object({{"class", "GenericError"},
                                                                    {"desc", e.detail()}})}});
        }
        if (request.isObject())
            if (const JsonValue *id = request.find("id"))
                reply.set("id", *id);
        if (!sendLine(client->fd.get(), reply.toString() + "\r\n")) {
            eof = true;
            break;
        }
    }
    if (eof)
        dropControlClient(client); // `client` is gone after this
}

JsonValue Supervisor::handleControlCommand(const JsonValue &request, int fd)
{
    const std::string &cmd = request.get("execute").asString();
    const JsonValue *args = request.find("arguments");
    if (cmd == "qmp_capabilities")
        return JsonValue::object();
    if (cmd == "vd-query-state")
        return runtimeState();
    if (cmd == "vd-set-state") {
        if (!args)
            raiseInternal(_("vd-set-state needs a 'state' argument"));
        updateState(args->get("state"));
        return JsonValue::object();
    }
    if (cmd == "vd-destroy") {
        destroyQemu();
        return JsonValue::object();
    }
    if (!monitor_)
        throw Error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    JsonValue ret = monitor_->execute(cmd, args ? *args : JsonValue(), fd);
    for (const auto &ev : monitor_->takeEvents())
        log("QEMU event: " + ev.toString());
    return ret;
}

int Supervisor::run(int readyFd)
{
    // Signals first, so a SIGTERM during start-up is handled, not fatal.
    loop_.addSignal(SIGTERM, [this](const signalfd_siginfo &) { destroyQemu(); });
    loop_.addSignal(SIGINT, [this](const signalfd_siginfo &) { destroyQemu(); });
    loop_.addSignal(SIGHUP, [this](const signalfd_siginfo &) { log("ignoring SIGHUP"); });
    try {
        start();
    } catch (const Error &e) {
        failStart(e, readyFd);
        return 1;
    } catch (const std::exception &e) {
        failStart(Error(VIR_ERR_INTERNAL_ERROR, e.what()), readyFd);
        return 1;
    }
    JsonValue ready = JsonValue::object(
        {{"ready", true}, {"qemuPid", static_cast<int64_t>(qemu_.pid())}});
    sendLine(readyFd, ready.toString() + "\n");
    close(readyFd);
    log("ready, QEMU pid " + std::to_string(qemu_.pid()));

    int rc = 0;
    try {
        loop_.run();
    } catch (const std::exception &e) {
        // A callback failed (e.g. QEMU's monitor sent something that is not
        // QMP): we can no longer supervise.  Exiting now would leave QEMU
        // killed by its parent-death signal and its devices, names and
        // state files behind with no owner; stop it and tear down instead.
        log(std::string("supervision failed, stopping QEMU: ") + e.what());
        stopQemuNow(config_.shutdownTimeout);
        rc = 1;
    }
    finish();
    log("done");
    return rc;
}

// ---- process entry and launch -------------------------------------------------

int supervisorMain(const std::function<void(Supervisor &)> &customize)
{
    signal(SIGPIPE, SIG_IGN);
    // Sockets, state file and QEMU's files are for root's eyes only; no
    // window between bind() and chmod() in which they are not.
    umask(077);
    // The ready report goes to what is now stdout; afterwards stdout is
    // /dev/null, so nothing else can ever write into the CLI's pipe.
    int readyFd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    UniqueFd devNull(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (readyFd < 0 || !devNull)
        return 1;
    dup2(devNull.get(), 1);

    auto reportError = [readyFd](const Error &e) {
        JsonValue msg = JsonValue::object(
            {{"error", JsonValue::object({{"code", static_cast<int64_t>(e.code())},
                                          {"message", e.detail()}})}});
        sendLine(readyFd, msg.toString() + "\n");
        close(readyFd);
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    };

    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return reportError(SystemError(errno, _("cannot read supervisor configuration")));
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
    }
    dup2(devNull.get(), 0);
    devNull.reset(); // fds 0 and 1 hold /dev/null now; no stray copy

    std::optional<Supervisor> sup;
    try {
        sup.emplace(SupervisorConfig::fromJson(JsonValue::parse(text)));
        if (customize)
            customize(*sup);
    } catch (const Error &e) {
        return reportError(e);
    }
    return sup->run(readyFd);
}

LaunchedDomain launchSupervisor(Command supervisorCommand, const SupervisorConfig &config,
                                const std::vector<std::pair<int, int>> &fds,
                                milliseconds timeout, const std::function<void(pid_t)> &spawned)
{
    SupervisorConfig cfg = config;
    cfg.passFds.clear();
    for (const auto &[number, fd] : fds) {
        if (number < 3)
            raiseInternal(strprintf(_("QEMU fd number %d is reserved"), number));
        cfg.passFds.push_back(number);
        supervisorCommand.passFd(number, fd);
    }

    // Socket pairs, not pipes: writing to a supervisor that died early must
    // fail with EPIPE, not kill us with SIGPIPE (send has MSG_NOSIGNAL).
    int cfgPair[2], readyPair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cfgPair) < 0)
        raiseSystem(errno, _("cannot create socket pair"));
    UniqueFd cfgOurs(cfgPair[0]), cfgTheirs(cfgPair[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, readyPair) < 0)
        raiseSystem(errno, _("cannot create socket pair"));
    UniqueFd readyOurs(readyPair[0]), readyTheirs(readyPair[1]);

    supervisorCommand.passFd(0, cfgTheirs.get()).passFd(1, readyTheirs.get());
    Child child = supervisorCommand.spawn();
    cfgTheirs.reset();
    readyTheirs.reset();
    if (spawned) {
        try {
            spawned(child.pid());
        } catch (...) {
            // Unconfigured, it exits at once; do not wait for a grace period.
            child.setTerminateGrace(seconds(5));
            throw;
        }
    }

    auto deadline = steady_clock::now() + timeout;
    std::string text = cfg.toJson().toString() + "\n";
    sendLine(cfgOurs.get(), text); // a dead supervisor is noticed below
    shutdown(cfgOurs.get(), SHUT_WR);
    cfgOurs.reset();

    std::string reply;
    bool eof = false, cancelled = false;
    constexpr int cancelCheckMs = 100;
    while (reply.find('\n') == std::string::npos) {
        int left = static_cast<int>(
            std::max<int64_t>(0, duration_cast<milliseconds>(deadline - steady_clock::now()).count()));
        pollfd p{readyOurs.get(), POLLIN, 0};
        // Wake up now and then to notice a held-back Ctrl-C.
        int rc = poll(&p, 1, std::min(left, cancelCheckMs));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0 && terminationPending()) {
            cancelled = true;
            break;
        }
        if (rc == 0 && left > cancelCheckMs)
            continue;
        if (rc <= 0)
            break;
        char buf[4096];
        ssize_t n = read(readyOurs.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            eof = true;
            break;
        }
        reply.append(buf, static_cast<size_t>(n));
    }

    if (reply.find('\n') != std::string::npos) {
        JsonValue msg = JsonValue::parse(reply.substr(0, reply.find('\n')));
        if (const JsonValue *err = msg.find("error")) {
            // The supervisor tore down before reporting; let it finish.
            child.waitFor(seconds(10));
            throw Error(static_cast<virErrorNumber>(err->get("code").asInt()),
                        err->get("message").asString(), VIR_FROM_QEMU);
        }
        // The supervisor closes its end right after the report: wait for
        // that EOF (briefly), so "started" means it holds nothing of ours.
        for (int waited = 0; waited < 1000; waited += 10) {
            pollfd p{readyOurs.get(), POLLIN, 0};
            char buf[256];
            if (poll(&p, 1, 10) > 0 && read(readyOurs.get(), buf, sizeof(buf)) == 0)
                break;
        }
        LaunchedDomain out;
        out.qemuPid = static_cast<pid_t>(msg.get("qemuPid").asInt());
        out.supervisor = std::move(child);
        return out;
    }
    if (cancelled) {
        // As on timeout, the Child's destructor cancels the start.
        child.setTerminateGrace(cfg.shutdownTimeout + seconds(5));
        throw Error(VIR_ERR_OPERATION_ABORTED,
                    strprintf(_("start of domain '%s' was cancelled"), cfg.name.c_str()),
                    VIR_FROM_QEMU);
    }
    if (eof) {
        auto st = child.waitFor(seconds(10));
        raiseInternal(strprintf(_("supervisor of domain '%s' exited before it was ready: %s"),
                                cfg.name.c_str(),
                                st ? st->describe().c_str() : _("still running")));
    }
    // The Child's destructor terminates the supervisor (SIGTERM cancels the
    // start: it stops QEMU and tears down); allow time for that.
    child.setTerminateGrace(cfg.shutdownTimeout + seconds(5));
    throw Error(VIR_ERR_OPERATION_TIMEOUT,
                strprintf(_("domain '%s' did not start within %lld ms"), cfg.name.c_str(),
                          static_cast<long long>(timeout.count())),
                VIR_FROM_QEMU);
}

} // namespace vd::qemu
