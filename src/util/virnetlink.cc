#include <config.h>

#include "util/virnetlink.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "util/virerror.h"

#ifndef SOL_NETLINK
# define SOL_NETLINK 270
#endif

namespace vd {

NetlinkStats &netlinkStats()
{
    static NetlinkStats stats;
    return stats;
}

// ---- NetlinkMsg ----------------------------------------------------------

void NetlinkMsg::Deleter::operator()(nl_msg *m) const noexcept { nlmsg_free(m); }

NetlinkMsg::NetlinkMsg(int type, int flags)
    : msg_(nlmsg_alloc_simple(type, flags))
{
    if (!msg_)
        throw Error(VIR_ERR_NO_MEMORY, "");
}

NetlinkMsg::~NetlinkMsg() = default;

[[noreturn]] static void raiseMsgFull()
{
    raiseInternal(_("netlink message too large"));
}

void NetlinkMsg::append(const void *data, size_t len)
{
    if (nlmsg_append(msg_.get(), const_cast<void *>(data), len, NLMSG_ALIGNTO) < 0)
        raiseMsgFull();
}

void NetlinkMsg::putU32(int attr, uint32_t value)
{
    if (nla_put_u32(msg_.get(), attr, value) < 0)
        raiseMsgFull();
}

void NetlinkMsg::putString(int attr, const std::string &value)
{
    if (nla_put_string(msg_.get(), attr, value.c_str()) < 0)
        raiseMsgFull();
}

void NetlinkMsg::putBytes(int attr, const void *data, size_t len)
{
    if (nla_put(msg_.get(), attr, static_cast<int>(len), data) < 0)
        raiseMsgFull();
}

void *NetlinkMsg::nestStart(int attr)
{
    nlattr *n = nla_nest_start(msg_.get(), attr);
    if (!n)
        raiseMsgFull();
    return n;
}

void NetlinkMsg::nestEnd(void *nest)
{
    nla_nest_end(msg_.get(), static_cast<nlattr *>(nest));
}

NetlinkMsg makeLinkMsg(int type, int flags, int ifindex, unsigned ifiFlags, unsigned ifiChange)
{
    NetlinkMsg msg(type, flags);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = ifindex;
    ifi.ifi_flags = ifiFlags;
    ifi.ifi_change = ifiChange;
    msg.append(&ifi, sizeof(ifi));
    return msg;
}

// ---- NetlinkSocket -------------------------------------------------------

void NetlinkSocket::Deleter::operator()(nl_sock *s) const noexcept
{
    nl_socket_free(s); // closes the fd too
}

static std::string nlErrorText(int nlerr)
{
    return nl_geterror(nlerr);
}

NetlinkSocket::NetlinkSocket() : sk_(nl_socket_alloc())
{
    if (!sk_)
        throw Error(VIR_ERR_NO_MEMORY, "");
    // We set NLM_F_ACK ourselves and match acks to requests by sequence
    // number; libnl's implicit behaviour would get in the way.
    nl_socket_disable_auto_ack(sk_.get());
    nl_socket_disable_seq_check(sk_.get());
    int err = nl_connect(sk_.get(), NETLINK_ROUTE);
    if (err < 0)
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("cannot connect netlink socket: %s"), nlErrorText(err).c_str()));
    int fdv = nl_socket_get_fd(sk_.get());
    ::fcntl(fdv, F_SETFD, FD_CLOEXEC);
    // Room for the acks and echoes of a whole pipelined window and for big
    // dumps.  SO_RCVBUFFORCE (root) goes beyond net.core.rmem_max.
    nl_socket_set_buffer_size(sk_.get(), 4 << 20, 1 << 20);
    int rcvbuf = 4 << 20;
    ::setsockopt(fdv, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    nl_socket_enable_msg_peek(sk_.get());
    int one = 1;
    // Both are best effort: older kernels simply give plain acks.
    ::setsockopt(fdv, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    ::setsockopt(fdv, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
}

NetlinkSocket::~NetlinkSocket() = default;

int NetlinkSocket::fd() const { return nl_socket_get_fd(sk_.get()); }

void NetlinkSocket::addMembership(int group)
{
    int err = nl_socket_add_membership(sk_.get(), group);
    if (err < 0)
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("cannot join netlink group %d: %s"), group,
                              nlErrorText(err).c_str()));
}

// Sends a completed message and returns its sequence number.
static uint32_t sendMsg(nl_sock *sk, NetlinkMsg &msg)
{
    nl_complete_msg(sk, msg.get()); // fills in port id and sequence number
    nlmsghdr *hdr = nlmsg_hdr(msg.get());
    hdr->nlmsg_flags |= NLM_F_REQUEST;
    for (;;) {
        int err = nl_send(sk, msg.get());
        if (err >= 0)
            break;
        if (err == -NLE_INTR)
            continue;
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("cannot send netlink message: %s"), nlErrorText(err).c_str()));
    }
    netlinkStats().requests++;
    return hdr->nlmsg_seq;
}

// Receives one datagram; calls `each` for every message in it.
static void recvBatch(nl_sock *sk, const std::function<void(const nlmsghdr *)> &each)
{
    sockaddr_nl peer{};
    unsigned char *buf = nullptr;
    int n;
    for (;;) {
        n = nl_recv(sk, &peer, &buf, nullptr);
        if (n >= 0)
            break;
        if (n == -NLE_INTR || n == -NLE_AGAIN)
            continue;
        if (n == -NLE_NOMEM) // ENOBUFS: the kernel dropped answers for us
            raiseSystem(ENOBUFS, _("netlink answers were lost (receive buffer overrun)"));
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("cannot receive netlink message: %s"), nlErrorText(n).c_str()));
    }
    std::unique_ptr<unsigned char, decltype(&std::free)> owner(buf, &std::free);
    auto *hdr = reinterpret_cast<const nlmsghdr *>(buf);
    int len = n;
    for (; NLMSG_OK(hdr, static_cast<unsigned>(len)); hdr = NLMSG_NEXT(hdr, len))
        each(hdr);
}

// Extract error and extended-ack text from an NLMSG_ERROR message.
static void parseError(const nlmsghdr *hdr, NetlinkReply &reply)
{
    if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        reply.error = EPROTO;
        return;
    }
    auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(hdr));
    reply.error = -e->error;
    if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
        return;
    size_t off = sizeof(nlmsgerr);
    if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
        off += NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof(nlmsghdr);
    size_t payload = hdr->nlmsg_len - NLMSG_HDRLEN;
    if (off >= payload)
        return;
    auto *p = reinterpret_cast<const char *>(e) + off;
    size_t left = payload - off;
    while (left >= sizeof(nlattr)) {
        auto *a = reinterpret_cast<const nlattr *>(p);
        if (a->nla_len < sizeof(nlattr) || a->nla_len > left)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
            const char *s = p + NLA_HDRLEN;
            reply.extAck.assign(s, strnlen(s, a->nla_len - NLA_HDRLEN));
        }
        size_t step = NLA_ALIGN(a->nla_len);
        if (step > left)
            break;
        p += step;
        left -= step;
    }
}

NetlinkReply NetlinkSocket::request(NetlinkMsg &msg)
{
    std::vector<NetlinkMsg> one;
    one.push_back(std::move(msg));
    auto replies = requestAll(one, 1);
    msg = std::move(one.front());
    return std::move(replies.front());
}

std::vector<NetlinkReply> NetlinkSocket::requestAll(std::vector<NetlinkMsg> &msgs, size_t window)
{
    std::vector<NetlinkReply> replies(msgs.size());
    std::map<uint32_t, size_t> pending; // sequence number -> request index
    size_t next = 0;
    if (window == 0)
        window = 1;

    auto onMessage = [&](const nlmsghdr *hdr) {
        auto it = pending.find(hdr->nlmsg_seq);
        if (it == pending.end())
            return; // a stray notification or an old answer
        NetlinkReply &r = replies[it->second];
        if (hdr->nlmsg_type == NLMSG_ERROR) {
            parseError(hdr, r);
            pending.erase(it);
        } else if (hdr->nlmsg_type != NLMSG_NOOP && hdr->nlmsg_type != NLMSG_DONE) {
            auto *b = reinterpret_cast<const char *>(hdr);
            r.echoes.emplace_back(b, b + hdr->nlmsg_len);
        }
    };

    while (next < msgs.size() || !pending.empty()) {
        while (next < msgs.size() && pending.size() < window) {
            nlmsghdr *hdr = nlmsg_hdr(msgs[next].get());
            hdr->nlmsg_flags |= NLM_F_ACK;
            uint32_t seq = sendMsg(sk_.get(), msgs[next]);
            pending[seq] = next;
            ++next;
        }
        recvBatch(sk_.get(), onMessage);
    }
    return replies;
}

bool NetlinkSocket::dump(NetlinkMsg &msg, const std::function<void(const nlmsghdr *)> &onMessage)
{
    nlmsghdr *req = nlmsg_hdr(msg.get());
    req->nlmsg_flags |= NLM_F_DUMP;
    uint32_t seq = sendMsg(sk_.get(), msg);
    netlinkStats().dumps++;
    bool done = false, interrupted = false;
    int error = 0;
    while (!done) {
        recvBatch(sk_.get(), [&](const nlmsghdr *hdr) {
            if (hdr->nlmsg_seq != seq || done)
                return;
            if (hdr->nlmsg_flags & NLM_F_DUMP_INTR)
                interrupted = true;
            if (hdr->nlmsg_type == NLMSG_DONE) {
                done = true;
            } else if (hdr->nlmsg_type == NLMSG_ERROR) {
                NetlinkReply r;
                parseError(hdr, r);
                error = r.error;
                done = true;
            } else if (hdr->nlmsg_type != NLMSG_NOOP) {
                onMessage(hdr);
            }
        });
    }
    if (error)
        raiseSystem(error, _("netlink dump failed"));
    return !interrupted;
}

// ---- links ---------------------------------------------------------------

std::optional<LinkInfo> parseLinkMessage(const nlmsghdr *hdr)
{
    if (hdr->nlmsg_type != RTM_NEWLINK ||
        hdr->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)))
        return std::nullopt;
    auto *ifi = static_cast<const ifinfomsg *>(NLMSG_DATA(hdr));
    nlattr *tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(const_cast<nlmsghdr *>(hdr), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0)
        return std::nullopt;
    LinkInfo li;
    li.ifindex = ifi->ifi_index;
    li.flags = ifi->ifi_flags;
    if (tb[IFLA_IFNAME])
        li.name = nla_get_string(tb[IFLA_IFNAME]);
    if (tb[IFLA_MTU])
        li.mtu = nla_get_u32(tb[IFLA_MTU]);
    if (tb[IFLA_MAX_MTU])
        li.maxMtu = nla_get_u32(tb[IFLA_MAX_MTU]);
    if (tb[IFLA_GROUP])
        li.group = nla_get_u32(tb[IFLA_GROUP]);
    if (tb[IFLA_LINK])
        li.parentIndex = static_cast<int>(nla_get_u32(tb[IFLA_LINK]));
    if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
        MacAddr mac;
        std::memcpy(mac.bytes.data(), nla_data(tb[IFLA_ADDRESS]), 6);
        li.mac = mac;
    }
    if (tb[IFLA_LINKINFO]) {
        nlattr *info[IFLA_INFO_MAX + 1] = {};
        if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0) {
            if (info[IFLA_INFO_KIND])
                li.kind = nla_get_string(info[IFLA_INFO_KIND]);
            if (info[IFLA_INFO_DATA] && (li.kind == "macvtap" || li.kind == "macvlan")) {
                nlattr *data[IFLA_MACVLAN_MAX + 1] = {};
                if (nla_parse_nested(data, IFLA_MACVLAN_MAX, info[IFLA_INFO_DATA], nullptr) == 0 &&
                    data[IFLA_MACVLAN_MODE])
                    li.macvlanMode = nla_get_u32(data[IFLA_MACVLAN_MODE]);
            }
        }
    }
    return li;
}

std::vector<LinkInfo> dumpLinks(NetlinkSocket &sock, bool *complete)
{
    std::vector<LinkInfo> links;
    bool ok = false;
    // An interrupted dump may miss or duplicate entries; retry a few times
    // and then accept the last one (callers treat the kernel as the arbiter
    // anyway: creation uses NLM_F_EXCL).
    for (int attempt = 0; attempt < 4; ++attempt) {
        links.clear();
        NetlinkMsg msg = makeLinkMsg(RTM_GETLINK, 0);
        // Skip per-link statistics: they are most of the dump's volume.
        msg.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        ok = sock.dump(msg, [&](const nlmsghdr *hdr) {
            if (auto li = parseLinkMessage(hdr))
                links.push_back(std::move(*li));
        });
        if (ok)
            break;
    }
    if (complete)
        *complete = ok;
    return links;
}

} // namespace vd
