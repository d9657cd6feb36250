// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "rpc/virnetserver.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/virerror.h"

namespace vd::rpc {

namespace {

// Supplementary groups of a process, from /proc/PID/status.
std::vector<gid_t> processGroups(pid_t pid)
{
    std::vector<gid_t> groups;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, 7, "Groups:") != 0)
            continue;
        std::istringstream words(line.substr(7));
        unsigned long g;
        while (words >> g)
            groups.push_back(static_cast<gid_t>(g));
    }
    return groups;
}

sockaddr_un unixAddress(const std::string &path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw Error(VIR_ERR_INVALID_ARG,
                    strprintf(_("socket path '%s' is too long"), path.c_str()), VIR_FROM_RPC);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// True when a server answers on `path`.
bool socketIsLive(const std::string &path)
{
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return false;
    sockaddr_un addr = unixAddress(path);
    return connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
}

PeerCredentials peerCredentials(int fd)
{
    ucred cred{};
    socklen_t len = sizeof(cred);
    PeerCredentials peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        peer.pid = cred.pid;
        peer.uid = cred.uid;
        peer.gid = cred.gid;
    }
    return peer;
}

} // namespace

bool peerAllowed(const PeerCredentials &peer, bool readOnlySocket, const ServerConfig &config)
{
    if (peer.pid <= 0 && peer.uid == static_cast<uid_t>(-1))
        return false; // no credentials: refuse rather than guess
    if (readOnlySocket)
        return true;
    if (peer.uid == 0 || peer.uid == geteuid())
        return true;
    if (!config.allowedGroup)
        return false;
    if (peer.gid == *config.allowedGroup)
        return true;
    for (gid_t g : processGroups(peer.pid))
        if (g == *config.allowedGroup)
            return true;
    return false;
}

ServerClient::ServerClient(uint64_t id, UniqueFd fd, bool readOnly, PeerCredentials peer)
    : id_(id), fd_(std::move(fd)), readOnly_(readOnly), peer_(peer)
{
}

bool ServerClient::closed() const
{
    std::lock_guard lock(outMutex_);
    return closed_ || failed_;
}

bool ServerClient::flushLocked()
{
    while (!out_.empty()) {
        const std::string &head = out_.front();
        ssize_t n = ::send(fd_.get(), head.data() + outOffset_, head.size() - outOffset_,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        outOffset_ += static_cast<size_t>(n);
        if (outOffset_ == head.size()) {
            out_.pop_front();
            outOffset_ = 0;
        }
    }
    return true;
}

bool ServerClient::send(std::string packet)
{
    bool needKick = false;
    {
        std::lock_guard lock(outMutex_);
        if (closed_ || failed_)
            return false;
        out_.push_back(std::move(packet));
        if (out_.size() == 1 && !flushLocked())
            failed_ = true;
        needKick = failed_ || !out_.empty();
    }
    if (needKick && kick_)
        kick_();
    return true;
}

bool ServerClient::sendMessage(uint32_t prog, uint32_t vers, uint32_t proc, std::string_view body)
{
    MessageHeader h;
    h.prog = prog;
    h.vers = vers;
    h.proc = proc;
    h.type = MessageType::Message;
    h.serial = 0;
    h.status = MessageStatus::Ok;
    return send(encodeMessage(h, body));
}

Server::Server(ServerConfig config, std::shared_ptr<Program> program)
    : config_(config), program_(std::move(program))
{
    kickFd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!kickFd_)
        raiseSystem(errno, _("cannot create eventfd"));
    loop_.addFd(kickFd_.get(), EventLoop::Readable, [this](uint32_t) { processKicks(); });
}

Server::~Server()
{
    quit();
    {
        std::lock_guard lock(jobMutex_);
        stopping_ = true;
    }
    jobCond_.notify_all();
    for (auto &t : workers_)
        if (t.joinable())
            t.join();
}

UniqueFd Server::listenUnix(const std::string &path, unsigned mode, std::optional<gid_t> group)
{
    sockaddr_un addr = unixAddress(path);
    if (socketIsLive(path))
        throw Error(VIR_ERR_OPERATION_INVALID,
                    strprintf(_("another server is already listening on '%s'"), path.c_str()),
                    VIR_FROM_RPC);
    if (unlink(path.c_str()) < 0 && errno != ENOENT)
        throw SystemError(errno, strprintf(_("cannot remove stale socket '%s'"), path.c_str()));
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        raiseSystem(errno, _("cannot create socket"));
    // No window in which the socket is more open than `mode`: bind under a
    // umask that leaves nothing, then open it up exactly as asked.
    mode_t old = umask(0777);
    int rc = bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    int err = errno;
    umask(old);
    if (rc < 0)
        throw SystemError(err, strprintf(_("cannot bind socket to '%s'"), path.c_str()));
    try {
        if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) < 0)
            throw SystemError(errno, strprintf(_("cannot set the group of '%s'"), path.c_str()));
        if (chmod(path.c_str(), mode) < 0)
            throw SystemError(errno, strprintf(_("cannot set the mode of '%s'"), path.c_str()));
        if (listen(fd.get(), 128) < 0)
            throw SystemError(errno, strprintf(_("cannot listen on '%s'"), path.c_str()));
    } catch (...) {
        unlink(path.c_str());
        throw;
    }
    return fd;
}

void Server::addListener(UniqueFd fd, bool readOnly)
{
    int flags = fcntl(fd.get(), F_GETFL);
    if (flags >= 0)
        fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
    int raw = fd.get();
    listeners_.push_back(std::move(fd));
    loop_.addFd(raw, EventLoop::Readable,
                [this, raw, readOnly](uint32_t) { acceptClients(raw, readOnly); });
}

void Server::handleSignals()
{
    std::signal(SIGPIPE, SIG_IGN);
    loop_.addSignal(SIGTERM, [this](const signalfd_siginfo &) { loop_.quit(); });
    loop_.addSignal(SIGINT, [this](const signalfd_siginfo &) { loop_.quit(); });
}

void Server::quit() { loop_.quit(); }

void Server::run()
{
    for (unsigned i = 0; i < std::max(1u, config_.workers); ++i)
        workers_.emplace_back([this] { workerMain(); });
    loop_.run();
    {
        std::lock_guard lock(jobMutex_);
        stopping_ = true;
    }
    jobCond_.notify_all();
    for (auto &t : workers_)
        t.join();
    workers_.clear();
    while (!clients_.empty())
        closeClient(clients_.begin()->second);
}

void Server::acceptClients(int listenFd, bool readOnly)
{
    for (;;) {
        UniqueFd fd(accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd)
            return; // EAGAIN, or a transient error: try on the next wakeup
        PeerCredentials peer = peerCredentials(fd.get());
        if (!peerAllowed(peer, readOnly, config_) || clients_.size() >= config_.maxClients)
            continue; // closing the fd refuses the connection
        auto c = std::make_shared<ServerClient>(nextClientId_++, std::move(fd), readOnly, peer);
        c->data_ = program_->newClientData();
        std::weak_ptr<ServerClient> weak = c;
        c->kick_ = [this, weak] {
            if (auto s = weak.lock()) {
                std::lock_guard lock(kickMutex_);
                kicked_.insert(s);
            }
            uint64_t one = 1;
            ssize_t n = write(kickFd_.get(), &one, sizeof(one));
            (void)n; // a full eventfd counter means a wakeup is pending anyway
        };
        c->watch_ = loop_.addFd(c->fd_.get(), EventLoop::Readable,
                                [this, weak](uint32_t revents) {
                                    if (auto s = weak.lock())
                                        onClientEvent(s, revents);
                                });
        clients_[c->id()] = c;
        clientCount_ = clients_.size();
    }
}

void Server::onClientEvent(const std::shared_ptr<ServerClient> &c, uint32_t revents)
{
    bool ok = true;
    if (revents & EventLoop::Writable) {
        std::lock_guard lock(c->outMutex_);
        ok = c->flushLocked();
    }
    if (ok && (revents & (EventLoop::Readable | EventLoop::HungUp | EventLoop::Errored)))
        ok = readClient(c);
    // The peer is gone for good (EPOLLHUP is reported even while reading
    // is paused): nobody is left to read the replies.
    if (revents & (EventLoop::HungUp | EventLoop::Errored))
        ok = false;
    if (!ok) {
        closeClient(c);
        return;
    }
    updateWatch(*c);
}

bool Server::readClient(const std::shared_ptr<ServerClient> &c)
{
    // A bounded number of reads per wakeup keeps one busy client from
    // starving the others; epoll is level-triggered, so nothing is lost.
    for (int round = 0; round < 16 && !c->readPaused_; ++round) {
        char buf[65536];
        size_t want = std::min(sizeof(buf), c->inNeed_ - c->inBuf_.size());
        ssize_t n = recv(c->fd_.get(), buf, want, MSG_DONTWAIT);
        if (n == 0)
            return false; // EOF
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->inBuf_.append(buf, static_cast<size_t>(n));
        if (c->inBuf_.size() < c->inNeed_)
            continue;
        if (!c->haveLength_) {
            try {
                c->inNeed_ = decodeLength(c->inBuf_);
            } catch (const Error &) {
                return false; // oversize or nonsense length: drop the client
            }
            c->haveLength_ = true;
            continue;
        }
        std::string packet = std::move(c->inBuf_);
        c->inBuf_.clear();
        c->inNeed_ = MessageLenSize;
        c->haveLength_ = false;
        if (!handlePacket(c, std::move(packet)))
            return false;
    }
    return true;
}

bool Server::handlePacket(const std::shared_ptr<ServerClient> &c, std::string packet)
{
    XdrDecoder dec(std::string_view(packet).substr(MessageLenSize));
    RawHeader h = decodeHeader(dec);
    std::string body = packet.substr(MessageLenSize + MessageHeaderSize);
    if (h.prog == KeepaliveProgram) {
        if (h.type == static_cast<uint32_t>(MessageType::Message) && h.proc == KeepaliveProcPing)
            c->sendMessage(KeepaliveProgram, KeepaliveVersion, KeepaliveProcPong, {});
        return true;
    }
    switch (static_cast<MessageType>(h.type)) {
    case MessageType::Call:
        break;
    case MessageType::CallWithFds:
        replyError(*c, h,
                   Error(VIR_ERR_RPC, _("passing file descriptors is not supported"),
                         VIR_FROM_RPC));
        return true;
    case MessageType::Message:
        return true; // nothing a client may tell us unasked
    default:
        return false; // replies and streams from a client: protocol violation
    }
    if (h.prog != program_->number() || h.vers != program_->version()) {
        replyError(*c, h,
                   Error(VIR_ERR_RPC,
                         strprintf(_("cannot find program %d version %d"),
                                   static_cast<int>(h.prog), static_cast<int>(h.vers)),
                         VIR_FROM_RPC));
        return true;
    }
    if (++c->inFlight_ >= config_.maxRequestsPerClient)
        c->readPaused_ = true;
    {
        std::lock_guard lock(jobMutex_);
        jobs_.push_back(Job{c, h, std::move(body)});
    }
    jobCond_.notify_one();
    return true;
}

void Server::replyError(ServerClient &c, const RawHeader &h, const Error &err)
{
    MessageHeader r;
    r.prog = h.prog;
    r.vers = h.vers;
    r.proc = h.proc;
    r.type = MessageType::Reply;
    r.serial = h.serial;
    r.status = MessageStatus::Error;
    c.send(encodeMessage(r, encodeErrorBody(err)));
}

void Server::workerMain()
{
    for (;;) {
        Job job;
        {
            std::unique_lock lock(jobMutex_);
            jobCond_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_)
                return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        runJob(job);
    }
}

void Server::runJob(Job &job)
{
    ServerClient &c = *job.client;
    if (!c.closed()) {
        try {
            std::string ret = program_->dispatch(job.client, job.header.proc, job.body);
            MessageHeader r;
            r.prog = job.header.prog;
            r.vers = job.header.vers;
            r.proc = job.header.proc;
            r.type = MessageType::Reply;
            r.serial = job.header.serial;
            r.status = MessageStatus::Ok;
            c.send(encodeMessage(r, ret));
        } catch (const Error &e) {
            replyError(c, job.header, e);
        } catch (const std::exception &e) {
            replyError(c, job.header, Error(VIR_ERR_INTERNAL_ERROR, e.what(), VIR_FROM_RPC));
        }
    }
    if (c.inFlight_.fetch_sub(1) == config_.maxRequestsPerClient && c.kick_)
        c.kick_(); // reading was paused; let the loop resume it
}

void Server::processKicks()
{
    uint64_t count;
    while (read(kickFd_.get(), &count, sizeof(count)) > 0) {
    }
    std::set<std::shared_ptr<ServerClient>> kicked;
    {
        std::lock_guard lock(kickMutex_);
        kicked.swap(kicked_);
    }
    for (const auto &c : kicked) {
        if (!clients_.count(c->id()))
            continue;
        bool failed;
        {
            std::lock_guard lock(c->outMutex_);
            failed = c->failed_;
        }
        if (failed)
            closeClient(c);
        else
            updateWatch(*c);
    }
}

void Server::updateWatch(ServerClient &c)
{
    if (c.readPaused_ && c.inFlight_ < config_.maxRequestsPerClient)
        c.readPaused_ = false;
    uint32_t events = c.readPaused_ ? 0 : EventLoop::Readable;
    {
        std::lock_guard lock(c.outMutex_);
        if (!c.out_.empty())
            events |= EventLoop::Writable;
    }
    if (loop_.contains(c.watch_))
        loop_.updateFd(c.watch_, events);
}

void Server::closeClient(const std::shared_ptr<ServerClient> &c)
{
    loop_.remove(c->watch_);
    {
        std::lock_guard lock(c->outMutex_);
        c->closed_ = true;
        c->out_.clear();
        c->fd_.reset();
    }
    program_->clientClosed(*c);
    clients_.erase(c->id());
    clientCount_ = clients_.size();
}

} // namespace vd::rpc
