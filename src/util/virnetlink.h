// A thin RAII layer over libnl-3 for rtnetlink: one socket object that sends
// requests (one at a time or pipelined, each acknowledged by the kernel),
// runs dumps, and can later join multicast groups (RTNLGRP_LINK) for a
// link watcher.  Messages are built with libnl's nlmsg/nla API; replies are
// parsed by hand so that the caller sees the kernel's errno and extended-ack
// text for every single request of a pipelined batch.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/virmacaddr.h"

struct nl_msg;
struct nl_sock;

namespace vd {

// Process-wide counters, read by the benchmark and tests to prove how many
// messages an operation cost.
struct NetlinkStats {
    std::atomic<uint64_t> requests{0}; // messages sent to the kernel
    std::atomic<uint64_t> dumps{0};    // of which dump requests
};
NetlinkStats &netlinkStats();

// Owns one libnl message.
class NetlinkMsg {
public:
    // Allocates a message with the given type and flags (NLM_F_REQUEST and
    // NLM_F_ACK are added by the socket).
    NetlinkMsg(int type, int flags);
    NetlinkMsg(NetlinkMsg &&) noexcept = default;
    NetlinkMsg &operator=(NetlinkMsg &&) noexcept = default;
    ~NetlinkMsg();

    nl_msg *get() const noexcept { return msg_.get(); }

    // Append the fixed family header (e.g. struct ifinfomsg).
    void append(const void *data, size_t len);
    void putU32(int attr, uint32_t value);
    void putString(int attr, const std::string &value);
    void putBytes(int attr, const void *data, size_t len);
    // Nested attributes: start returns a handle for end().
    void *nestStart(int attr);
    void nestEnd(void *nest);

private:
    struct Deleter {
        void operator()(nl_msg *m) const noexcept;
    };
    std::unique_ptr<nl_msg, Deleter> msg_;
};

// What the kernel answered to one request.
struct NetlinkReply {
    int error = 0;          // 0 or a positive errno
    std::string extAck;     // the kernel's extended-ack message, if any
    std::vector<std::vector<char>> echoes; // NLM_F_ECHO copies (raw messages)
};

class NetlinkSocket {
public:
    // Connects a NETLINK_ROUTE socket (close-on-exec, extended acks on,
    // large buffers so that pipelined batches do not overflow).
    NetlinkSocket();
    ~NetlinkSocket();
    NetlinkSocket(const NetlinkSocket &) = delete;
    NetlinkSocket &operator=(const NetlinkSocket &) = delete;

    int fd() const;
    nl_sock *get() const noexcept { return sk_.get(); }

    // Join a multicast group (e.g. RTNLGRP_LINK) to receive notifications.
    void addMembership(int group);

    // Send one request and wait for its acknowledgement.
    NetlinkReply request(NetlinkMsg &msg);

    // Send all requests, keeping up to `window` of them in flight, and
    // return one reply per request in the same order.  The kernel handles
    // them in order; a failure of one does not stop the others.  The kernel
    // answers while handling our send, so the window bounds what must fit
    // into the receive buffer (each answer, echo included, is a few KiB).
    std::vector<NetlinkReply> requestAll(std::vector<NetlinkMsg> &msgs, size_t window = 64);

    // Run a dump request, calling `onMessage` for each answer message.
    // Returns false if the kernel flagged the dump as interrupted (the
    // object list changed while it ran), so the caller may retry.
    bool dump(NetlinkMsg &msg, const std::function<void(const nlmsghdr *)> &onMessage);

private:
    struct Deleter {
        void operator()(nl_sock *s) const noexcept;
    };
    std::unique_ptr<nl_sock, Deleter> sk_;
};

// The attributes of a link that the netdev layer cares about.
struct LinkInfo {
    int ifindex = 0;
    std::string name;
    std::string kind;        // IFLA_INFO_KIND, e.g. "macvtap", "veth"; may be empty
    unsigned flags = 0;      // IFF_*
    unsigned mtu = 0;
    unsigned maxMtu = 0;     // 0 if the kernel did not say
    uint32_t group = 0;
    int parentIndex = 0;     // IFLA_LINK, 0 if none
    std::optional<MacAddr> mac;
    std::optional<uint32_t> macvlanMode; // MACVLAN_MODE_*, for macvlan/macvtap
};

// Parse one RTM_NEWLINK message; nullopt if it is not one.
std::optional<LinkInfo> parseLinkMessage(const nlmsghdr *hdr);

// One RTM_GETLINK dump of the socket's network namespace (retried a few
// times if interrupted by concurrent changes; `complete` says whether the
// last attempt was consistent).
std::vector<LinkInfo> dumpLinks(NetlinkSocket &sock, bool *complete = nullptr);

// Build an RTM_GETLINK/RTM_NEWLINK/RTM_DELLINK message with its ifinfomsg.
NetlinkMsg makeLinkMsg(int type, int flags, int ifindex = 0,
                       unsigned ifiFlags = 0, unsigned ifiChange = 0);

} // namespace vd
