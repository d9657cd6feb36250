// A QMP client for one QEMU process.
//
// QMP is line-oriented JSON over a UNIX stream socket: a greeting, then the
// `qmp_capabilities` handshake, then commands answered by "return" or
// "error" replies, with asynchronous events ("SHUTDOWN", "NIC_RX_FILTER_CHANGED"
// ...) interleaved at any point.  execute() is synchronous and tags every
// command with an id so a reply that arrives after a timeout can never be
// taken for the answer to a later command.  Events seen meanwhile are
// buffered for takeEvents()/waitForEvent(), or read by an event loop that
// watches fd() and calls readPending().
//
// File descriptors (macvtap fds) are passed with SCM_RIGHTS on the same
// message as the `getfd` command that names them.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virjson.h"

namespace vd::qemu {

// QEMU answered a command with {"error": {"class": ..., "desc": ...}}.
// what() is libvirt's "internal error: unable to execute QEMU command 'x': desc".
class MonitorError : public Error {
public:
    MonitorError(const std::string &command, std::string qmpClass, std::string desc);
    const std::string &command() const noexcept { return command_; }
    // "GenericError", "CommandNotFound", "DeviceNotFound", ...
    const std::string &qmpClass() const noexcept { return class_; }
    const std::string &desc() const noexcept { return desc_; }

private:
    std::string command_, class_, desc_;
};

// A listening UNIX socket bound at `path` (any stale file there is removed),
// to be inherited by QEMU as `-chardev socket,id=...,fd=N,server=on,wait=off`.
// Connecting to it can then never race with QEMU's start-up: the kernel
// queues our connection until QEMU accepts it.
UniqueFd createMonitorListener(const std::string &path);

class Monitor {
public:
    using Clock = std::chrono::steady_clock;
    using Ms = std::chrono::milliseconds;

    // Connect to QEMU's monitor socket, retrying while the socket does not
    // exist yet or refuses connections, for at most `timeout`.  `alive`, if
    // given, is asked between retries; when it returns false we give up at
    // once (QEMU died) with VIR_ERR_OPERATION_FAILED.  Then read the greeting
    // and negotiate capabilities.
    static Monitor connect(const std::string &path, Ms timeout,
                           const std::function<bool()> &alive = {});
    // Use an already connected stream socket (e.g. a socketpair end whose
    // other end QEMU inherited).  Reads the greeting and negotiates.
    static Monitor open(UniqueFd socket, Ms timeout);

    Monitor(Monitor &&) noexcept = default;
    Monitor &operator=(Monitor &&) noexcept = default;

    // {"QMP": {"version": ..., "capabilities": [...]}}
    const JsonValue &greeting() const noexcept { return greeting_; }
    // "7.2.22" from the greeting.
    std::string qemuVersion() const;

    // The socket, for an event loop; call readPending() when it is readable.
    int fd() const noexcept { return sock_.get(); }
    // True once QEMU closed the connection (it exited, or after quit()).
    bool closed() const noexcept { return closed_; }

    // How long execute() waits for a reply (default 30 s).
    void setCommandTimeout(Ms t) noexcept { commandTimeout_ = t; }

    // Run a command; returns its "return" value.  Throws MonitorError for a
    // QMP error, VIR_ERR_OPERATION_FAILED when the connection ends,
    // VIR_ERR_OPERATION_TIMEOUT when no reply comes in time.  With
    // passFd >= 0 that fd travels with the command (SCM_RIGHTS).
    JsonValue execute(const std::string &command, const JsonValue &arguments = JsonValue(),
                      int passFd = -1);

    // Read whatever QEMU sent without blocking and buffer the events; false
    // once the connection is closed.
    bool readPending();
    // Buffered events in arrival order (the buffer is emptied).
    std::vector<JsonValue> takeEvents();
    // Wait for an event by name (buffered ones count; others stay
    // buffered); nullopt on timeout or when the connection closed.
    std::optional<JsonValue> waitForEvent(const std::string &name, Ms timeout);

    // ---- helpers for the commands virt-direct uses ----

    // getfd: hand `fd` to QEMU under `name`, to be used as netdev_add's fd.
    void sendFd(const std::string &name, int fd);
    void closeFd(const std::string &name);
    // set_link: the NIC's (or netdev's) carrier as the guest sees it.
    void setLink(const std::string &id, bool up);
    // ACPI power button: the guest shuts down cleanly if it listens.
    void systemPowerdown();
    void stop();
    void cont();
    // Ask QEMU to exit; tolerates QEMU closing the socket before replying.
    void quit();
    // "running", "paused", "prelaunch", "shutdown", ...
    std::string queryStatus();
    // Devices that have an id, with their QOM type: {"net0", "virtio-net-pci"}.
    std::vector<std::pair<std::string, std::string>> peripheralDevices();
    // Whether device `id` exists and is realized (qom-get .../realized).
    bool deviceRealized(const std::string &id);
    void netdevAdd(const JsonValue &arguments);
    void netdevDel(const std::string &id);
    void deviceAdd(const JsonValue &arguments);
    void deviceDel(const std::string &id);
    std::string humanMonitorCommand(const std::string &commandLine);

private:
    explicit Monitor(UniqueFd sock) noexcept : sock_(std::move(sock)) {}
    void handshake(Ms timeout);
    void sendAll(const std::string &data, int passFd, Clock::time_point deadline);
    // Read one message, blocking until `deadline`; nullopt on timeout.
    std::optional<JsonValue> readMessage(Clock::time_point deadline);
    std::optional<JsonValue> popLine();
    bool fillBuffer(int timeoutMs);
    void pushEvent(JsonValue event);
    [[noreturn]] void raiseClosed() const;

    UniqueFd sock_;
    std::string inbuf_;
    std::deque<JsonValue> events_;
    JsonValue greeting_;
    bool closed_ = false;
    uint64_t nextId_ = 1;
    Ms commandTimeout_{30000};
};

} // namespace vd::qemu
