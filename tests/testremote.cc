// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "testremote.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "remote/remote_protocol.h"
#include "testutils.h"
#include "util/virerror.h"

namespace vd::test {

namespace {

bool canConnect(const std::string &path)
{
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
}

} // namespace

RemoteServer::RemoteServer(const std::string &netns, const std::string &root,
                           const std::vector<std::string> &extra)
    : netns_(netns), root_(root)
{
    std::vector<std::string> args;
    std::string program = buildDir() + "/tools/virt-direct";
    if (!netns.empty()) {
        args = {"netns", "exec", netns, program};
        program = findProgramInPath("ip");
    }
    args.insert(args.end(), {"--root", root, "serve"});
    args.insert(args.end(), extra.begin(), extra.end());
    Command cmd(program, args);
    cmd.setLogFile(root + "/serve.log");
    cmd.setKillOnParentDeath(true);
    child_ = cmd.spawn();
    child_.setTerminateGrace(std::chrono::seconds(10));
    for (int i = 0; i < 500; ++i) {
        if (canConnect(socketPath()))
            return;
        if (child_.tryWait())
            throw std::runtime_error("virt-direct serve exited: " + log());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("virt-direct serve did not start listening: " + log());
}

RemoteServer::~RemoteServer()
{
    if (child_.running())
        child_.terminate(std::chrono::seconds(10));
}

std::string RemoteServer::log() const
{
    try {
        return readText(root_ + "/serve.log");
    } catch (...) {
        return "";
    }
}

std::string RemoteServer::uri(bool readOnly) const
{
    return "virt-direct+unix:///system?socket=" +
           (readOnly ? readOnlySocketPath() : socketPath());
}

RunResult RemoteServer::virsh(const std::vector<std::string> &args, bool readOnly) const
{
    std::vector<std::string> argv = {findProgramInPath("virsh"), "-c", uri(readOnly)};
    argv.insert(argv.end(), args.begin(), args.end());
    // No user configuration (aliases, default URIs) may change what we test.
    return runProgram(argv, {"LIBVIRT_DEFAULT_URI=", "VIRSH_DEFAULT_CONNECT_URI=",
                             "XDG_CONFIG_HOME=" + root_ + "/xdg"});
}

RunResult RemoteServer::cli(const std::vector<std::string> &args) const
{
    return runVirtDirect(netns_, root_, args);
}

std::string pythonWithLibvirt()
{
    for (const char *candidate : {"/usr/bin/python3", "python3"}) {
        std::string path;
        try {
            path = candidate[0] == '/' ? candidate : findProgramInPath(candidate);
        } catch (const vd::Error &) {
            continue;
        }
        if (access(path.c_str(), X_OK) == 0 &&
            runProgram({path, "-c", "import libvirt"}).status == 0)
            return path;
    }
    skip("no python3 with the libvirt module (python3-libvirt)");
}

RawClient::RawClient(const std::string &socketPath)
{
    fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
        throw std::runtime_error("cannot connect to " + socketPath);
}

void RawClient::sendBytes(const std::string &bytes)
{
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0)
            throw std::runtime_error("send failed: " + std::string(strerror(errno)));
        off += static_cast<size_t>(n);
    }
}

uint32_t RawClient::call(uint32_t prog, uint32_t proc, const std::string &body,
                         vd::rpc::MessageType type, uint32_t vers)
{
    vd::rpc::MessageHeader h;
    h.prog = prog;
    h.vers = vers;
    h.proc = proc;
    h.type = type;
    h.serial = serial_++;
    sendBytes(vd::rpc::encodeMessage(h, body));
    return h.serial;
}

std::string RawClient::readExactly(size_t n, int timeoutMs)
{
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (out.size() < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        pollfd p{fd_.get(), POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
            throw std::runtime_error("timed out waiting for the server");
        char buf[65536];
        ssize_t r = recv(fd_.get(), buf, std::min(sizeof(buf), n - out.size()), 0);
        if (r <= 0)
            throw std::runtime_error("connection closed by the server");
        out.append(buf, static_cast<size_t>(r));
    }
    return out;
}

RawClient::Packet RawClient::receive(int timeoutMs)
{
    uint32_t len = vd::rpc::decodeLength(readExactly(4, timeoutMs));
    std::string rest = readExactly(len - 4, timeoutMs);
    vd::rpc::XdrDecoder dec(rest);
    Packet p;
    p.header = vd::rpc::decodeHeader(dec);
    p.body = rest.substr(vd::rpc::MessageHeaderSize);
    return p;
}

bool RawClient::waitClosed(int timeoutMs)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        pollfd p{fd_.get(), POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
            return false;
        char buf[4096];
        ssize_t r = recv(fd_.get(), buf, sizeof(buf), 0);
        if (r <= 0)
            return true;
    }
}

void RawClient::open()
{
    call(vd::remote::RemoteProgramNumber, vd::remote::ProcAuthList);
    if (receive().header.status != 0)
        throw std::runtime_error("AUTH_LIST failed");
    vd::rpc::XdrEncoder args;
    args.putOptionalString(std::string("virt-direct:///system"), vd::remote::RemoteStringMax);
    args.putU32(0);
    call(vd::remote::RemoteProgramNumber, vd::remote::ProcConnectOpen, args.data());
    if (receive().header.status != 0)
        throw std::runtime_error("CONNECT_OPEN failed");
}

} // namespace vd::test
