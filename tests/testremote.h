// SPDX-License-Identifier: LGPL-2.1-or-later
// A `virt-direct serve` child for tests, and ways to talk to it: the real
// virsh and python3-libvirt, or a raw socket speaking the protocol by hand
// (for garbage, oversize packets and unknown procedures).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rpc/virnetmessage.h"
#include "testcommand.h"
#include "util/vircommand.h"
#include "util/virfile.h"

namespace vd::test {

class RemoteServer {
public:
    // Start `virt-direct --root ROOT serve EXTRA...` (inside network
    // namespace `netns` unless empty) and wait until its socket answers.
    RemoteServer(const std::string &netns, const std::string &root,
                 const std::vector<std::string> &extra = {});
    ~RemoteServer();

    std::string socketPath() const { return root_ + "/run/libvirt-sock"; }
    std::string readOnlySocketPath() const { return root_ + "/run/libvirt-sock-ro"; }
    std::string uri(bool readOnly = false) const;
    pid_t pid() const { return child_.pid(); }
    bool running() { return !child_.tryWait(); }
    std::string log() const;

    // The real virsh with -c uri(readOnly).
    RunResult virsh(const std::vector<std::string> &args, bool readOnly = false) const;
    // The real virt-direct CLI on the same root.
    RunResult cli(const std::vector<std::string> &args) const;

private:
    std::string netns_, root_;
    Child child_;
};

// The python3 that has the libvirt module (Debian's python3-libvirt);
// skips the test when there is none.
std::string pythonWithLibvirt();

// A hand-driven protocol connection.
class RawClient {
public:
    explicit RawClient(const std::string &socketPath);
    void sendBytes(const std::string &bytes);
    // Send a CALL (or any header) with `body`; returns the serial used.
    uint32_t call(uint32_t prog, uint32_t proc, const std::string &body = {},
                  vd::rpc::MessageType type = vd::rpc::MessageType::Call, uint32_t vers = 1);
    struct Packet {
        vd::rpc::RawHeader header{};
        std::string body;
    };
    // The next packet, or throws after `timeoutMs`; `closed` set when the
    // server hung up instead.
    Packet receive(int timeoutMs = 10000);
    bool waitClosed(int timeoutMs = 10000);
    // AUTH_LIST + CONNECT_OPEN, as the real client starts.
    void open();

private:
    std::string readExactly(size_t n, int timeoutMs);
    UniqueFd fd_;
    uint32_t serial_ = 1;
};

} // namespace vd::test
