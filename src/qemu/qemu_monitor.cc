#include <config.h>

#include "qemu/qemu_monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace vd::qemu {

using namespace std::chrono;

namespace {

// Bound the buffers so a misbehaving QEMU cannot make us grow without end.
constexpr size_t maxLineLength = 64 * 1024 * 1024;
constexpr size_t maxBufferedEvents = 4096;

sockaddr_un unixAddress(const std::string &path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        raiseInternal(strprintf(_("Monitor path %s too big for destination"), path.c_str()));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

int msLeft(Monitor::Clock::time_point deadline)
{
    auto left = duration_cast<milliseconds>(deadline - Monitor::Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
}

} // namespace

MonitorError::MonitorError(const std::string &command, std::string qmpClass, std::string desc)
    : Error(VIR_ERR_INTERNAL_ERROR,
            strprintf(_("unable to execute QEMU command '%s': %s"), command.c_str(), desc.c_str()),
            VIR_FROM_QEMU),
      command_(command), class_(std::move(qmpClass)), desc_(std::move(desc))
{
}

UniqueFd createMonitorListener(const std::string &path)
{
    sockaddr_un addr = unixAddress(path);
    UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock)
        raiseSystem(errno, _("failed to create socket"));
    if (unlink(path.c_str()) < 0 && errno != ENOENT)
        raiseSystem(errno, strprintf(_("Unable to unlink %s"), path.c_str()));
    if (bind(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
        raiseSystem(errno, strprintf(_("Failed to bind socket to '%s'"), path.c_str()));
    if (listen(sock.get(), 1) < 0) {
        int err = errno;
        unlink(path.c_str());
        raiseSystem(err, strprintf(_("Failed to listen on socket '%s'"), path.c_str()));
    }
    return sock;
}

Monitor Monitor::connect(const std::string &path, Ms timeout, const std::function<bool()> &alive)
{
    sockaddr_un addr = unixAddress(path);
    auto deadline = Clock::now() + timeout;
    for (;;) {
        UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!sock)
            raiseSystem(errno, _("failed to create socket"));
        if (::connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0)
            return open(std::move(sock), duration_cast<Ms>(deadline - Clock::now()));
        int err = errno;
        // QEMU has not created or not yet listens on the socket: retry.
        if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN)
            raiseSystem(err, strprintf(_("failed to connect to monitor socket %s"), path.c_str()));
        if (alive && !alive())
            throw Error(VIR_ERR_OPERATION_FAILED,
                        _("QEMU exited while connecting to its monitor"), VIR_FROM_QEMU);
        if (Clock::now() >= deadline)
            raiseSystem(err, strprintf(_("monitor socket did not show up: %s"), path.c_str()));
        std::this_thread::sleep_for(milliseconds(5));
    }
}

Monitor Monitor::open(UniqueFd socket, Ms timeout)
{
    int flags = fcntl(socket.get(), F_GETFL);
    if (flags < 0 || fcntl(socket.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        raiseSystem(errno, _("Unable to set monitor socket non-blocking"));
    Monitor mon(std::move(socket));
    mon.handshake(timeout);
    return mon;
}

void Monitor::handshake(Ms timeout)
{
    auto deadline = Clock::now() + timeout;
    auto msg = readMessage(deadline);
    if (!msg)
        throw Error(VIR_ERR_OPERATION_TIMEOUT, _("QEMU monitor greeting did not arrive"),
                    VIR_FROM_QEMU);
    if (!msg->isObject() || !msg->has("QMP"))
        raiseInternal(strprintf(_("unexpected QEMU monitor greeting: %s"),
                                msg->toString().c_str()));
    greeting_ = std::move(*msg);
    Ms saved = commandTimeout_;
    commandTimeout_ = std::max(Ms(1), duration_cast<Ms>(deadline - Clock::now()));
    execute("qmp_capabilities");
    commandTimeout_ = saved;
}

std::string Monitor::qemuVersion() const
{
    const JsonValue &q = greeting_.get("QMP").get("version").get("qemu");
    return strprintf("%lld.%lld.%lld", static_cast<long long>(q.get("major").asInt()),
                     static_cast<long long>(q.get("minor").asInt()),
                     static_cast<long long>(q.get("micro").asInt()));
}

void Monitor::raiseClosed() const
{
    // libvirt's wording when QEMU goes away under the monitor.
    throw Error(VIR_ERR_OPERATION_FAILED, _("End of file from qemu monitor"), VIR_FROM_QEMU);
}

void Monitor::sendAll(const std::string &data, int passFd, Clock::time_point deadline)
{
    size_t done = 0;
    bool fdSent = passFd < 0;
    while (done < data.size()) {
        iovec iov{const_cast<char *>(data.data() + done), data.size() - done};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        if (!fdSent) {
            // The fd rides on the first byte(s) of the command.
            std::memset(control, 0, sizeof(control));
            msg.msg_control = control;
            msg.msg_controllen = sizeof(control);
            cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &passFd, sizeof(int));
        }
        ssize_t n = sendmsg(sock_.get(), &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                pollfd p{sock_.get(), POLLOUT, 0};
                int rc = poll(&p, 1, msLeft(deadline));
                if (rc == 0)
                    throw Error(VIR_ERR_OPERATION_TIMEOUT,
                                _("cannot send to QEMU monitor: it does not read"), VIR_FROM_QEMU);
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET) {
                closed_ = true;
                raiseClosed();
            }
            raiseSystem(errno, _("Unable to write to monitor"));
        }
        fdSent = true;
        done += static_cast<size_t>(n);
    }
}

// One complete line from the buffer, parsed; nullopt if none is complete.
std::optional<JsonValue> Monitor::popLine()
{
    for (;;) {
        size_t nl = inbuf_.find('\n');
        if (nl == std::string::npos) {
            if (inbuf_.size() > maxLineLength)
                raiseInternal(_("QEMU monitor reply is too long"));
            return std::nullopt;
        }
        std::string line = inbuf_.substr(0, nl);
        inbuf_.erase(0, nl + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        return JsonValue::parse(line);
    }
}

// Wait up to timeoutMs for data and append it; false on timeout.  Sets
// closed_ on EOF.
bool Monitor::fillBuffer(int timeoutMs)
{
    pollfd p{sock_.get(), POLLIN, 0};
    int rc = poll(&p, 1, timeoutMs);
    if (rc < 0) {
        if (errno == EINTR)
            return true; // caller re-checks its deadline
        raiseSystem(errno, _("Unable to poll monitor socket"));
    }
    if (rc == 0)
        return false;
    char buf[65536];
    for (;;) {
        ssize_t n = recv(sock_.get(), buf, sizeof(buf), 0);
        if (n > 0) {
            inbuf_.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) {
            closed_ = true;
            return true;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return true;
        if (errno == ECONNRESET) {
            closed_ = true;
            return true;
        }
        raiseSystem(errno, _("Unable to read from monitor"));
    }
}

std::optional<JsonValue> Monitor::readMessage(Clock::time_point deadline)
{
    for (;;) {
        if (auto msg = popLine())
            return msg;
        if (closed_)
            raiseClosed();
        if (!fillBuffer(msLeft(deadline)))
            return std::nullopt; // nothing arrived before the deadline
    }
}

void Monitor::pushEvent(JsonValue event)
{
    if (events_.size() >= maxBufferedEvents)
        events_.pop_front();
    events_.push_back(std::move(event));
}

JsonValue Monitor::execute(const std::string &command, const JsonValue &arguments, int passFd)
{
    if (closed_)
        raiseClosed();
    std::string id = strprintf("vd-%llu", static_cast<unsigned long long>(nextId_++));
    JsonValue cmd = JsonValue::object({{"execute", command}});
    if (!arguments.isNull())
        cmd.set("arguments", arguments);
    cmd.set("id", id);
    std::string line = cmd.toString();
    line += "\r\n";

    auto deadline = Clock::now() + commandTimeout_;
    sendAll(line, passFd, deadline);
    for (;;) {
        auto msg = readMessage(deadline);
        if (!msg)
            throw Error(VIR_ERR_OPERATION_TIMEOUT,
                        strprintf(_("QEMU monitor did not answer '%s' in time"), command.c_str()),
                        VIR_FROM_QEMU);
        if (!msg->isObject())
            continue;
        if (msg->has("event")) {
            pushEvent(std::move(*msg));
            continue;
        }
        const JsonValue *replyId = msg->find("id");
        if (!replyId || !replyId->isString() || replyId->asString() != id)
            continue; // the late answer to a command that timed out earlier
        if (const JsonValue *err = msg->find("error")) {
            const JsonValue *cls = err->isObject() ? err->find("class") : nullptr;
            const JsonValue *desc = err->isObject() ? err->find("desc") : nullptr;
            throw MonitorError(command, cls && cls->isString() ? cls->asString() : "",
                               desc && desc->isString() ? desc->asString()
                                                        : std::string(_("unknown error")));
        }
        if (const JsonValue *ret = msg->find("return"))
            return *ret;
        raiseInternal(strprintf(_("QEMU monitor reply to '%s' has neither return nor error"),
                                command.c_str()));
    }
}

bool Monitor::readPending()
{
    if (closed_ && inbuf_.empty())
        return false;
    if (!closed_)
        fillBuffer(0);
    while (auto msg = popLine()) {
        if (msg->isObject() && msg->has("event"))
            pushEvent(std::move(*msg));
        // Replies nobody waits for (after a timeout) are dropped.
    }
    return !closed_;
}

std::vector<JsonValue> Monitor::takeEvents()
{
    std::vector<JsonValue> out(std::make_move_iterator(events_.begin()),
                               std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
}

std::optional<JsonValue> Monitor::waitForEvent(const std::string &name, Ms timeout)
{
    auto deadline = Clock::now() + timeout;
    size_t checked = 0;
    for (;;) {
        for (; checked < events_.size(); ++checked) {
            const JsonValue *ev = events_[checked].find("event");
            if (ev && ev->isString() && ev->asString() == name) {
                JsonValue found = std::move(events_[checked]);
                events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(checked));
                return found;
            }
        }
        if (closed_ && inbuf_.find('\n') == std::string::npos)
            return std::nullopt;
        int left = msLeft(deadline);
        if (!closed_)
            fillBuffer(left);
        size_t before = events_.size();
        while (auto msg = popLine())
            if (msg->isObject() && msg->has("event"))
                pushEvent(std::move(*msg));
        if (events_.size() < before) // the buffer dropped old events
            checked = 0;
        if (Clock::now() >= deadline && checked >= events_.size())
            return std::nullopt;
    }
}

void Monitor::sendFd(const std::string &name, int fd)
{
    execute("getfd", JsonValue::object({{"fdname", name}}), fd);
}

void Monitor::closeFd(const std::string &name)
{
    execute("closefd", JsonValue::object({{"fdname", name}}));
}

void Monitor::setLink(const std::string &id, bool up)
{
    execute("set_link", JsonValue::object({{"name", id}, {"up", up}}));
}

void Monitor::systemPowerdown() { execute("system_powerdown"); }
void Monitor::stop() { execute("stop"); }
void Monitor::cont() { execute("cont"); }

void Monitor::quit()
{
    try {
        execute("quit");
    } catch (const Error &) {
        // QEMU may exit before its reply reaches us.
        if (!closed_)
            throw;
    }
}

std::string Monitor::queryStatus()
{
    return execute("query-status").get("status").asString();
}

std::vector<std::pair<std::string, std::string>> Monitor::peripheralDevices()
{
    std::vector<std::pair<std::string, std::string>> out;
    JsonValue list = execute("qom-list", JsonValue::object({{"path", "/machine/peripheral"}}));
    for (const auto &prop : list.asArray()) {
        const std::string &type = prop.get("type").asString();
        // Children look like {"name": "net0", "type": "child<virtio-net-pci>"}.
        if (type.rfind("child<", 0) == 0 && type.back() == '>')
            out.emplace_back(prop.get("name").asString(), type.substr(6, type.size() - 7));
    }
    return out;
}

bool Monitor::deviceRealized(const std::string &id)
{
    try {
        return execute("qom-get", JsonValue::object({{"path", "/machine/peripheral/" + id},
                                                     {"property", "realized"}}))
            .asBool();
    } catch (const MonitorError &e) {
        if (e.qmpClass() == "DeviceNotFound" || e.qmpClass() == "GenericError")
            return false;
        throw;
    }
}

void Monitor::netdevAdd(const JsonValue &arguments) { execute("netdev_add", arguments); }

void Monitor::netdevDel(const std::string &id)
{
    execute("netdev_del", JsonValue::object({{"id", id}}));
}

void Monitor::deviceAdd(const JsonValue &arguments) { execute("device_add", arguments); }

void Monitor::deviceDel(const std::string &id)
{
    execute("device_del", JsonValue::object({{"id", id}}));
}

std::string Monitor::humanMonitorCommand(const std::string &commandLine)
{
    return execute("human-monitor-command", JsonValue::object({{"command-line", commandLine}}))
        .asString();
}

} // namespace vd::qemu
