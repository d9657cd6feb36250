// SPDX-License-Identifier: LGPL-2.1-or-later
// The RPC server: unix sockets (read-write and read-only), one event-loop
// thread doing all socket reads, and a pool of worker threads running the
// calls, so a slow call (starting a domain with hundreds of NICs) never
// holds up other clients or the keepalive answers of its own client.
//
// Every connection's peer credentials (SO_PEERCRED) are checked against the
// socket's policy before a single byte is read.  Packets over the protocol
// limit, headers that make no sense or data after a fatal error close that
// connection only; calls to unknown programs get an error reply.  Keepalive
// PINGs (program "keep") are answered on the loop thread itself.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rpc/virnetmessage.h"
#include "util/vireventloop.h"
#include "util/virfile.h"

namespace vd::rpc {

constexpr uint32_t KeepaliveProgram = 0x6b656570; // "keep"
constexpr uint32_t KeepaliveVersion = 1;
constexpr uint32_t KeepaliveProcPing = 1;
constexpr uint32_t KeepaliveProcPong = 2;

struct PeerCredentials {
    pid_t pid = -1;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
};

// What a program keeps per client (registered event callbacks, the open
// state, ...).  Owned by the client.
class ClientData {
public:
    virtual ~ClientData() = default;
};

class ServerClient : public std::enable_shared_from_this<ServerClient> {
public:
    ServerClient(uint64_t id, UniqueFd fd, bool readOnly, PeerCredentials peer);
    ServerClient(const ServerClient &) = delete;
    ServerClient &operator=(const ServerClient &) = delete;

    uint64_t id() const noexcept { return id_; }
    bool readOnly() const noexcept { return readOnly_; }
    const PeerCredentials &peer() const noexcept { return peer_; }
    ClientData *data() const noexcept { return data_.get(); }

    // Queue a whole packet for sending; thread-safe.  Returns false when
    // the connection is already closed.
    bool send(std::string packet);
    // Queue an asynchronous MESSAGE packet (an event); thread-safe.
    bool sendMessage(uint32_t prog, uint32_t vers, uint32_t proc, std::string_view body);
    bool closed() const;

private:
    friend class Server;
    // Write as much queued output as the socket takes; false on a fatal
    // socket error.  Caller holds outMutex_.
    bool flushLocked();

    const uint64_t id_;
    UniqueFd fd_;
    const bool readOnly_;
    const PeerCredentials peer_;
    std::unique_ptr<ClientData> data_;

    // Loop-thread state.
    std::string inBuf_;
    size_t inNeed_ = MessageLenSize; // bytes wanted before the next parse step
    bool haveLength_ = false;
    EventLoop::WatchId watch_ = 0;
    bool readPaused_ = false;

    std::atomic<unsigned> inFlight_{0};
    mutable std::mutex outMutex_;
    std::deque<std::string> out_;
    size_t outOffset_ = 0;
    bool closed_ = false;
    bool failed_ = false; // a write failed; the loop closes the connection
    std::function<void()> kick_; // wake the loop to update this client's watch
};

// A program served over the connection (libvirt's REMOTE_PROGRAM).
class Program {
public:
    virtual ~Program() = default;
    virtual uint32_t number() const = 0;
    virtual uint32_t version() const = 0;
    virtual std::unique_ptr<ClientData> newClientData() = 0;
    // Run one CALL on a worker thread: the reply body, or throw vd::Error
    // for an error reply.
    virtual std::string dispatch(const std::shared_ptr<ServerClient> &client, uint32_t proc,
                                 std::string_view args) = 0;
    // The connection is gone (loop thread).
    virtual void clientClosed(ServerClient &client) { (void)client; }
};

struct ServerConfig {
    unsigned workers = 16;
    unsigned maxClients = 5000;
    unsigned maxRequestsPerClient = 5; // libvirt's max_client_requests
    // Besides root and the server's own user, members of this group may
    // use the read-write socket.
    std::optional<gid_t> allowedGroup;
};

// Which peers a socket admits.
bool peerAllowed(const PeerCredentials &peer, bool readOnlySocket, const ServerConfig &config);

class Server {
public:
    Server(ServerConfig config, std::shared_ptr<Program> program);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    // Bind and listen on `path` (a stale socket file left by a dead server
    // is replaced; a live one is an error).  `mode` and `group` are applied
    // before anyone can connect.
    static UniqueFd listenUnix(const std::string &path, unsigned mode,
                               std::optional<gid_t> group = std::nullopt);
    // Serve an already listening socket (also one passed by systemd).
    void addListener(UniqueFd fd, bool readOnly);

    // Serve until quit() (or SIGTERM/SIGINT when handleSignals was called).
    void run();
    void handleSignals();
    void quit();
    size_t clientCount() const { return clientCount_.load(); }

private:
    struct Job {
        std::shared_ptr<ServerClient> client;
        RawHeader header;
        std::string body;
    };

    void acceptClients(int listenFd, bool readOnly);
    void onClientEvent(const std::shared_ptr<ServerClient> &c, uint32_t revents);
    bool readClient(const std::shared_ptr<ServerClient> &c);
    bool handlePacket(const std::shared_ptr<ServerClient> &c, std::string packet);
    void closeClient(const std::shared_ptr<ServerClient> &c);
    void updateWatch(ServerClient &c);
    void processKicks();
    void workerMain();
    void runJob(Job &job);
    void replyError(ServerClient &c, const RawHeader &h, const class vd::Error &err);

    ServerConfig config_;
    std::shared_ptr<Program> program_;
    EventLoop loop_;
    std::vector<UniqueFd> listeners_;
    std::map<uint64_t, std::shared_ptr<ServerClient>> clients_;
    std::atomic<size_t> clientCount_{0};
    uint64_t nextClientId_ = 1;

    UniqueFd kickFd_; // eventfd: workers ask the loop to revisit clients
    std::mutex kickMutex_;
    std::set<std::shared_ptr<ServerClient>> kicked_;

    std::mutex jobMutex_;
    std::condition_variable jobCond_;
    std::deque<Job> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

} // namespace vd::rpc
