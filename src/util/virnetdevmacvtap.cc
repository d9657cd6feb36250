#include <config.h>

#include "util/virnetdevmacvtap.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "util/virerror.h"
#include "util/virthread.h"

namespace vd {

const char *macvtapKindName(MacvtapKind kind)
{
    return kind == MacvtapKind::Macvlan ? "macvlan" : "macvtap";
}

uint32_t macvlanModeToKernel(MacvlanMode mode)
{
    switch (mode) {
    case MacvlanMode::Vepa: return MACVLAN_MODE_VEPA;
    case MacvlanMode::Bridge: return MACVLAN_MODE_BRIDGE;
    case MacvlanMode::Private: return MACVLAN_MODE_PRIVATE;
    case MacvlanMode::Passthrough: return MACVLAN_MODE_PASSTHRU;
    case MacvlanMode::Source: return MACVLAN_MODE_SOURCE;
    }
    return MACVLAN_MODE_VEPA;
}

const char *macvlanModeName(MacvlanMode mode)
{
    switch (mode) {
    case MacvlanMode::Vepa: return "vepa";
    case MacvlanMode::Bridge: return "bridge";
    case MacvlanMode::Private: return "private";
    case MacvlanMode::Passthrough: return "passthrough";
    case MacvlanMode::Source: return "source";
    }
    return "vepa";
}

std::optional<MacvlanMode> macvlanModeFromName(const std::string &name)
{
    for (auto m : {MacvlanMode::Vepa, MacvlanMode::Bridge, MacvlanMode::Private,
                   MacvlanMode::Passthrough, MacvlanMode::Source})
        if (name == macvlanModeName(m))
            return m;
    return std::nullopt;
}

std::string MacvtapRecord::format() const
{
    std::string s = "ifname=" + ifname + " ifindex=" + std::to_string(ifindex) +
                    " parent=" + parent + " parentindex=" + std::to_string(parentIndex) +
                    " mode=" + macvlanModeName(mode) + " kind=" + macvtapKindName(kind) +
                    " group=" + std::to_string(group) + " autonamed=" + (autoNamed ? "1" : "0");
    if (savedParentMac)
        s += " savedmac=" + savedParentMac->str();
    return s;
}

std::optional<MacvtapRecord> MacvtapRecord::parse(const std::string &text)
{
    MacvtapRecord r;
    std::istringstream in(text);
    std::string word;
    bool haveName = false;
    while (in >> word) {
        auto eq = word.find('=');
        if (eq == std::string::npos)
            return std::nullopt;
        std::string k = word.substr(0, eq), v = word.substr(eq + 1);
        char *end = nullptr;
        if (k == "ifname") {
            r.ifname = v;
            haveName = !v.empty();
        } else if (k == "ifindex") {
            r.ifindex = static_cast<int>(std::strtol(v.c_str(), &end, 10));
        } else if (k == "parent") {
            r.parent = v;
        } else if (k == "parentindex") {
            r.parentIndex = static_cast<int>(std::strtol(v.c_str(), &end, 10));
        } else if (k == "mode") {
            auto m = macvlanModeFromName(v);
            if (!m)
                return std::nullopt;
            r.mode = *m;
        } else if (k == "kind") {
            if (v != "macvtap" && v != "macvlan")
                return std::nullopt;
            r.kind = v == "macvlan" ? MacvtapKind::Macvlan : MacvtapKind::Macvtap;
        } else if (k == "group") {
            r.group = static_cast<uint32_t>(std::strtoul(v.c_str(), &end, 10));
        } else if (k == "autonamed") {
            r.autoNamed = v == "1";
        } else if (k == "savedmac") {
            auto m = MacAddr::parse(v);
            if (!m)
                return std::nullopt;
            r.savedParentMac = *m;
        }
        // Unknown keys are ignored so that newer versions can add some.
    }
    if (!haveName)
        return std::nullopt;
    return r;
}

// "msg [kernel detail]": the extended ack often says more than the errno.
static std::string withExtAck(std::string msg, const NetlinkReply &r)
{
    if (!r.extAck.empty())
        msg += " [" + r.extAck + "]";
    return msg;
}

void netdevSetMac(NetlinkSocket &sock, int ifindex, const std::string &ifname, const MacAddr &mac)
{
    NetlinkMsg msg = makeLinkMsg(RTM_NEWLINK, 0, ifindex);
    msg.putBytes(IFLA_ADDRESS, mac.bytes.data(), mac.bytes.size());
    NetlinkReply r = sock.request(msg);
    if (r.error)
        throw SystemError(r.error, withExtAck(strprintf(_("cannot set MAC address of interface %s to %s"),
                                                        ifname.c_str(), mac.str().c_str()), r));
}

// ---- tap character devices -----------------------------------------------

// Read "major:minor" of the macvtap's tap device from sysfs.  The entry is
// created while the kernel registers the device, but udev or a slow sysfs
// may lag, so wait a bounded time for it.
static dev_t readTapDev(const std::string &ifname, int ifindex, unsigned waitMs)
{
    std::string path = "/sys/class/net/" + ifname + "/macvtap/tap" + std::to_string(ifindex) + "/dev";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
    for (;;) {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd) {
            char buf[64] = {};
            ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
            unsigned maj = 0, min = 0;
            if (n > 0 && std::sscanf(buf, "%u:%u", &maj, &min) == 2)
                return makedev(maj, min);
            raiseSystem(n < 0 ? errno : EINVAL,
                        strprintf(_("cannot read device number of tap device '%s'"), path.c_str()));
        }
        if (errno != ENOENT || std::chrono::steady_clock::now() >= deadline)
            raiseSystem(errno, strprintf(_("cannot find tap device of interface %s (%s)"),
                                         ifname.c_str(), path.c_str()));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// Device nodes of our own, in a private directory (0700) that is removed
// again, with every node in it, when the object goes away.
class TapNodeDir {
public:
    explicit TapNodeDir(std::string parent) : parent_(std::move(parent)) {}
    ~TapNodeDir()
    {
        for (const auto &n : nodes_)
            ::unlink(n.c_str());
        if (!dir_.empty())
            ::rmdir(dir_.c_str());
    }
    TapNodeDir(const TapNodeDir &) = delete;
    TapNodeDir &operator=(const TapNodeDir &) = delete;

    // A node for `dev`, made on first use.
    std::string nodeFor(dev_t dev)
    {
        if (dir_.empty()) {
            std::string tmpl = parent_ + "/.virt-direct-tap-XXXXXX";
            if (!::mkdtemp(tmpl.data()))
                raiseSystem(errno, strprintf(_("cannot create private directory in '%s'"),
                                             parent_.c_str()));
            dir_ = tmpl;
        }
        std::string path = dir_ + "/" + std::to_string(major(dev)) + "-" + std::to_string(minor(dev));
        if (::mknod(path.c_str(), S_IFCHR | 0600, dev) < 0 && errno != EEXIST)
            raiseSystem(errno, strprintf(_("cannot create device node '%s'"), path.c_str()));
        nodes_.push_back(path);
        return path;
    }

private:
    std::string parent_;
    std::string dir_;
    std::vector<std::string> nodes_;
};

static std::vector<UniqueFd> openTapWith(TapNodeDir &nodes, const std::string &ifname, int ifindex,
                                         unsigned queues, bool vnetHdr, unsigned waitMs);

std::vector<UniqueFd> macvtapOpenTap(const std::string &ifname, int ifindex, unsigned queues,
                                     bool vnetHdr, const std::string &nodeDir, unsigned waitMs)
{
    TapNodeDir nodes(nodeDir);
    return openTapWith(nodes, ifname, ifindex, queues, vnetHdr, waitMs);
}

static std::vector<UniqueFd> openTapWith(TapNodeDir &nodes, const std::string &ifname, int ifindex,
                                         unsigned queues, bool vnetHdr, unsigned waitMs)
{
    dev_t dev = readTapDev(ifname, ifindex, waitMs);

    // /dev/tap<ifindex> is named by ifindex, which is per namespace, while
    // devtmpfs is global: it may be another namespace's device.  Use it only
    // if it is the character device sysfs names; else make our own node.
    std::string path = "/dev/tap" + std::to_string(ifindex);
    struct stat st;
    if (::stat(path.c_str(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != dev)
        path = nodes.nodeFor(dev);

    std::vector<UniqueFd> fds;
    if (queues == 0)
        queues = 1;
    for (unsigned q = 0; q < queues; ++q) {
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (!fd)
            raiseSystem(errno, strprintf(_("cannot open macvtap tap device %s of interface %s"),
                                         path.c_str(), ifname.c_str()));
        // The node could have been replaced between stat and open.
        if (::fstat(fd.get(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != dev)
            raiseSystem(ENXIO, strprintf(_("tap device %s is not the one of interface %s"),
                                         path.c_str(), ifname.c_str()));
        // macvtap starts every queue with IFF_VNET_HDR set; make the flags
        // say exactly what was asked for.
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        if (vnetHdr)
            ifr.ifr_flags |= IFF_VNET_HDR;
        if (queues > 1)
            ifr.ifr_flags |= IFF_MULTI_QUEUE;
        if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
            raiseSystem(errno, strprintf(_("cannot set flags on tap device of interface %s"),
                                         ifname.c_str()));
        fds.push_back(std::move(fd));
    }
    return fds;
}

// ---- transaction ---------------------------------------------------------

MacvtapTransaction::MacvtapTransaction(NetlinkSocket &sock, MacvtapOptions opts)
    : sock_(sock), opts_(std::move(opts))
{
}

MacvtapTransaction::~MacvtapTransaction()
{
    if (!committed_)
        rollback();
}

std::vector<MacvtapResult> &MacvtapTransaction::prepare(const std::vector<MacvtapRequest> &requests)
{
    try {
        createAll(requests);
        openAll(requests);
    } catch (...) {
        rollback();
        throw;
    }
    return results_;
}

std::vector<MacvtapResult> MacvtapTransaction::commit()
{
    committed_ = true;
    reservedNames_.clear();
    changedParentMacs_.clear();
    resultReq_.clear();
    return std::move(results_);
}

void MacvtapTransaction::rollback() noexcept
{
    if (committed_)
        return;
    try {
        std::vector<MacvtapRecord> records;
        std::vector<UniqueFd> fds;
        for (auto &r : results_) {
            records.push_back(r.record);
            for (auto &fd : r.tapFds)
                fds.push_back(std::move(fd));
        }
        results_.clear();
        // Teardown releases the names of these records; names reserved
        // for devices that never got created are released below.
        macvtapTeardown(sock_, records, std::move(fds), nullptr, opts_.owner);
        resultReq_.clear();
        // Passthrough parents whose device never got created.
        for (auto it = changedParentMacs_.rbegin(); it != changedParentMacs_.rend(); ++it) {
            try {
                netdevSetMac(sock_, it->ifindex, it->name, it->mac);
            } catch (const Error &) {
                // The parent vanished: nothing to restore.
            }
        }
        changedParentMacs_.clear();
        if (opts_.state && !reservedNames_.empty())
            opts_.state->release(opts_.owner, reservedNames_);
        reservedNames_.clear();
    } catch (...) {
        // Nothing sensible left to do: the original error is more useful.
    }
}

namespace {
// A device still to be created, and what we know about it.
struct Pending {
    size_t req;
    std::string name;
    bool autoNamed;
    unsigned tries = 0;
};
} // namespace

static NetlinkMsg makeCreateMsg(const MacvtapRequest &rq, const std::string &name,
                                int parentIndex, uint32_t group)
{
    // NLM_F_EXCL makes the kernel the arbiter of name collisions; NLM_F_ECHO
    // returns the new link (and so its ifindex) in the same round trip.
    NetlinkMsg msg = makeLinkMsg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, 0,
                                 rq.up ? IFF_UP : 0, rq.up ? IFF_UP : 0);
    msg.putString(IFLA_IFNAME, name);
    msg.putU32(IFLA_LINK, static_cast<uint32_t>(parentIndex));
    msg.putBytes(IFLA_ADDRESS, rq.mac.bytes.data(), rq.mac.bytes.size());
    if (rq.mtu)
        msg.putU32(IFLA_MTU, rq.mtu);
    if (group)
        msg.putU32(IFLA_GROUP, group);
    void *linkinfo = msg.nestStart(IFLA_LINKINFO);
    msg.putString(IFLA_INFO_KIND, macvtapKindName(rq.kind));
    void *data = msg.nestStart(IFLA_INFO_DATA);
    msg.putU32(IFLA_MACVLAN_MODE, macvlanModeToKernel(rq.mode));
    if (rq.mode == MacvlanMode::Source && !rq.sourceMacs.empty()) {
        msg.putU32(IFLA_MACVLAN_MACADDR_MODE, MACVLAN_MACADDR_SET);
        void *list = msg.nestStart(IFLA_MACVLAN_MACADDR_DATA);
        for (const auto &m : rq.sourceMacs)
            msg.putBytes(IFLA_MACVLAN_MACADDR, m.bytes.data(), m.bytes.size());
        msg.nestEnd(list);
    }
    msg.nestEnd(data);
    msg.nestEnd(linkinfo);
    return msg;
}

// Pick a link group for the owner that no existing link and no other owner
// uses, so that deleting the group can only hit the owner's devices.
static uint32_t chooseGroup(NetdevNameState::Data &data, const std::string &owner,
                            const std::vector<LinkInfo> &links)
{
    auto &o = data.owners[owner];
    if (o.group)
        return o.group;
    std::set<uint32_t> used;
    for (const auto &l : links)
        used.insert(l.group);
    for (const auto &[name, other] : data.owners)
        used.insert(other.group);
    for (uint32_t k = 0; k < NetdevNameState::kGroupCount; ++k) {
        uint32_t off = (data.nextGroup + k) % NetdevNameState::kGroupCount;
        uint32_t g = NetdevNameState::kGroupBase + off;
        if (!used.count(g)) {
            data.nextGroup = (off + 1) % NetdevNameState::kGroupCount;
            o.group = g;
            return g;
        }
    }
    return 0; // all taken: per-ifindex deletes will do
}

void MacvtapTransaction::createAll(const std::vector<MacvtapRequest> &requests)
{
    auto fault = [&](MacvtapStep s, size_t i) {
        if (opts_.fault)
            opts_.fault(s, i);
    };

    // Everything below runs under the state lock: names are chosen and
    // recorded as reserved before any other virt-direct process can look.
    std::optional<NetdevNameState::Locked> locked;
    NetdevNameState::Data scratch;
    if (opts_.state)
        locked.emplace(opts_.state->lock());
    NetdevNameState::Data &data = locked ? locked->data : scratch;

    // ONE dump tells us the parents and every name already in use.
    std::vector<LinkInfo> links = dumpLinks(sock_);
    std::map<std::string, const LinkInfo *> byName;
    for (const auto &l : links)
        byName[l.name] = &l;

    std::set<std::string> reservedAll, reservedByOthers;
    if (locked) {
        reservedAll = locked->allReservedNames();
        for (const auto &[owner, o] : data.owners)
            if (owner != opts_.owner)
                reservedByOthers.insert(o.names.begin(), o.names.end());
    }

    std::map<std::string, NamePool> pools;
    auto poolFor = [&](MacvtapKind kind) -> NamePool & {
        std::string prefix = macvtapKindName(kind);
        auto it = pools.find(prefix);
        if (it != pools.end())
            return it->second;
        NamePool pool(prefix, opts_.poolLimit);
        for (const auto &l : links)
            pool.markTaken(l.name);
        for (const auto &n : reservedAll)
            pool.markTaken(n);
        pool.setCursor(data.cursors[prefix]);
        return pools.emplace(prefix, std::move(pool)).first->second;
    };
    auto nextName = [&](MacvtapKind kind, const std::string &parent) {
        NamePool &pool = poolFor(kind);
        auto name = pool.allocateName();
        if (!name)
            throw Error(VIR_ERR_INTERNAL_ERROR,
                        strprintf(_("no free %s interface name for a device on %s"),
                                  pool.prefix().c_str(), parent.c_str()));
        data.cursors[pool.prefix()] = pool.cursor();
        return *name;
    };

    // Link groups need the state file: it is what keeps them unique.
    uint32_t group = 0;
    if (locked && !opts_.owner.empty())
        group = chooseGroup(data, opts_.owner, links);

    // Validate and choose names.
    std::vector<Pending> pending;
    std::vector<const LinkInfo *> parents(requests.size());
    std::set<std::string> chosen;
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto &rq = requests[i];
        auto pit = byName.find(rq.parent);
        if (rq.parent.empty() || pit == byName.end())
            raiseSystem(ENODEV, strprintf(_("Unable to get index for interface %s"), rq.parent.c_str()));
        parents[i] = pit->second;
        unsigned parentMtu = pit->second->mtu;
        if (rq.mtu && parentMtu && rq.mtu > parentMtu)
            throw Error(VIR_ERR_CONFIG_UNSUPPORTED,
                        strprintf(_("MTU %u of interface %s is larger than the MTU %u of its parent %s"),
                                  rq.mtu, rq.ifname.empty() ? macvtapKindName(rq.kind) : rq.ifname.c_str(),
                                  parentMtu, rq.parent.c_str()),
                        VIR_FROM_NET);
        Pending p{i, rq.ifname, rq.ifname.empty()};
        if (p.autoNamed) {
            p.name = nextName(rq.kind, rq.parent);
        } else {
            if (rq.ifname.size() >= IFNAMSIZ)
                throw Error(VIR_ERR_CONFIG_UNSUPPORTED,
                            strprintf(_("interface name '%s' is too long"), rq.ifname.c_str()),
                            VIR_FROM_NET);
            // The user's name is used as given; if it exists the start fails
            // and the existing device is not ours to touch.
            if (byName.count(rq.ifname) || reservedByOthers.count(rq.ifname) || chosen.count(rq.ifname))
                raiseSystem(EEXIST, strprintf(_("error creating %s interface %s@%s (%s)"),
                                              macvtapKindName(rq.kind), rq.ifname.c_str(),
                                              rq.parent.c_str(), rq.mac.str().c_str()));
        }
        chosen.insert(p.name);
        if (!opts_.owner.empty())
            data.owners[opts_.owner].names.insert(p.name);
        pending.push_back(p);
        fault(MacvtapStep::Reserve, i);
    }

    // Passthrough: the macvtap takes over the parent's MAC, so the parent
    // gets the guest's MAC; the old one is restored at teardown.
    std::map<size_t, MacAddr> savedMacs;
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto &rq = requests[i];
        if (rq.mode != MacvlanMode::Passthrough)
            continue;
        const LinkInfo *parent = parents[i];
        if (!parent->mac)
            continue;
        savedMacs[i] = *parent->mac;
        if (*parent->mac != rq.mac) {
            netdevSetMac(sock_, parent->ifindex, parent->name, rq.mac);
            // Remembered at once so that rollback restores it even if the
            // creation below fails.
            changedParentMacs_.push_back({parent->ifindex, parent->name, *parent->mac});
        }
        fault(MacvtapStep::ParentMac, i);
    }

    // Create everything in pipelined batches; names that turn out to be
    // taken (a foreign device appeared since the dump) are replaced.
    while (!pending.empty()) {
        std::vector<NetlinkMsg> msgs;
        for (const auto &p : pending)
            msgs.push_back(makeCreateMsg(requests[p.req], p.name, parents[p.req]->ifindex, group));
        std::vector<NetlinkReply> replies = sock_.requestAll(msgs);

        std::vector<Pending> retry;
        std::exception_ptr firstError;
        std::vector<size_t> createdNow;
        for (size_t k = 0; k < pending.size(); ++k) {
            Pending &p = pending[k];
            const auto &rq = requests[p.req];
            const NetlinkReply &r = replies[k];
            if (r.error == EEXIST && p.autoNamed && p.tries < opts_.maxNameRetries) {
                poolFor(rq.kind).markTaken(p.name);
                if (!opts_.owner.empty())
                    data.owners[opts_.owner].names.erase(p.name);
                p.name = nextName(rq.kind, rq.parent);
                if (!opts_.owner.empty())
                    data.owners[opts_.owner].names.insert(p.name);
                ++p.tries;
                retry.push_back(p);
                continue;
            }
            if (r.error) {
                if (!firstError)
                    firstError = std::make_exception_ptr(SystemError(r.error, withExtAck(
                        strprintf(_("error creating %s interface %s@%s (%s)"),
                                  macvtapKindName(rq.kind), p.name.c_str(),
                                  rq.parent.c_str(), rq.mac.str().c_str()), r)));
                if (!opts_.owner.empty())
                    data.owners[opts_.owner].names.erase(p.name);
                continue;
            }
            MacvtapResult res;
            res.record.ifname = p.name;
            res.record.parent = rq.parent;
            res.record.parentIndex = parents[p.req]->ifindex;
            res.record.mode = rq.mode;
            res.record.kind = rq.kind;
            res.record.group = group;
            res.record.autoNamed = p.autoNamed;
            if (savedMacs.count(p.req))
                res.record.savedParentMac = savedMacs[p.req];
            for (const auto &e : r.echoes) {
                auto li = parseLinkMessage(reinterpret_cast<const nlmsghdr *>(e.data()));
                if (li && li->name == p.name) {
                    res.record.ifindex = li->ifindex;
                    break;
                }
            }
            if (!res.record.ifindex) {
                // A kernel without NLM_F_ECHO for links: ask by name.
                NetlinkMsg get = makeLinkMsg(RTM_GETLINK, 0);
                get.putString(IFLA_IFNAME, p.name);
                NetlinkReply gr = sock_.request(get);
                for (const auto &e : gr.echoes)
                    if (auto li = parseLinkMessage(reinterpret_cast<const nlmsghdr *>(e.data())))
                        res.record.ifindex = li->ifindex;
            }
            results_.push_back(std::move(res));
            resultReq_.push_back(p.req);
            createdNow.push_back(p.req);
        }
        // Only now, with every device of the batch recorded for rollback.
        if (firstError)
            std::rethrow_exception(firstError);
        for (size_t req : createdNow)
            fault(MacvtapStep::Create, req);
        pending = std::move(retry);
    }

    // Replies to retried names came later: restore request order.
    std::vector<size_t> perm(results_.size());
    for (size_t i = 0; i < perm.size(); ++i)
        perm[i] = i;
    std::sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return resultReq_[a] < resultReq_[b]; });
    std::vector<MacvtapResult> sorted;
    std::vector<size_t> sortedReq;
    for (size_t i : perm) {
        sorted.push_back(std::move(results_[i]));
        sortedReq.push_back(resultReq_[i]);
    }
    results_ = std::move(sorted);
    resultReq_ = std::move(sortedReq);

    if (locked) {
        locked->save();
        for (const auto &r : results_)
            reservedNames_.push_back(r.record.ifname);
    }
    fault(MacvtapStep::Save, 0);
}

void MacvtapTransaction::openAll(const std::vector<MacvtapRequest> &requests)
{
    TapNodeDir nodes(opts_.nodeDir);
    for (size_t i = 0; i < results_.size(); ++i) {
        auto &res = results_[i];
        const auto &rq = requests[resultReq_[i]];
        if (rq.kind != MacvtapKind::Macvtap)
            continue;
        try {
            res.tapFds = openTapWith(nodes, res.record.ifname, res.record.ifindex, rq.queues,
                                     rq.vnetHdr, opts_.tapWaitMs);
        } catch (const SystemError &e) {
            // Say which interface on which parent failed.
            throw SystemError(e.errnum(), strprintf(_("cannot open tap device of %s interface %s@%s"),
                                                    macvtapKindName(rq.kind),
                                                    res.record.ifname.c_str(), rq.parent.c_str()));
        }
        if (opts_.fault)
            opts_.fault(MacvtapStep::Open, resultReq_[i]);
    }
}

// ---- up / teardown -------------------------------------------------------

void macvtapSetUp(NetlinkSocket &sock, const std::vector<MacvtapRecord> &records, bool up)
{
    std::vector<NetlinkMsg> msgs;
    for (const auto &r : records)
        msgs.push_back(makeLinkMsg(RTM_NEWLINK, 0, r.ifindex, up ? IFF_UP : 0, IFF_UP));
    auto replies = sock.requestAll(msgs);
    for (size_t i = 0; i < records.size(); ++i)
        if (replies[i].error)
            throw SystemError(replies[i].error,
                              withExtAck(strprintf(_("Cannot set interface flags on '%s'"),
                                                   records[i].ifname.c_str()), replies[i]));
}

MacvtapTeardownReport macvtapTeardown(NetlinkSocket &sock,
                                      const std::vector<MacvtapRecord> &records,
                                      std::vector<UniqueFd> fds,
                                      NetdevNameState *state, const std::string &owner)
{
    MacvtapTeardownReport rep;
    // Release the tap fds first: each last close waits for an RCU grace
    // period, and in parallel those waits overlap.
    closeFdsInParallel(std::move(fds));

    std::vector<LinkInfo> links;
    bool complete = true;
    if (!records.empty())
        links = dumpLinks(sock, &complete);
    std::map<int, const LinkInfo *> byIndex;
    for (const auto &l : links)
        byIndex[l.ifindex] = &l;

    // Ours = the ifindex still carries the name and kind we created.
    // ifindexes are allocated cyclically, so a recycled ifindex with our
    // old name and kind is not a practical concern.
    std::set<int> ours;
    std::map<uint32_t, std::set<int>> oursByGroup;
    for (const auto &r : records) {
        if (r.ifindex <= 0)
            continue;
        auto it = byIndex.find(r.ifindex);
        if (it == byIndex.end()) {
            ++rep.vanished;
            continue;
        }
        const LinkInfo &l = *it->second;
        if (l.name != r.ifname || l.kind != macvtapKindName(r.kind)) {
            ++rep.notOurs;
            continue;
        }
        ours.insert(r.ifindex);
        if (r.group && l.group == r.group)
            oursByGroup[r.group].insert(r.ifindex);
    }

    // A group can be deleted in one request if, in this same dump, every
    // member is one of ours.
    std::set<int> deleted;
    // (A device that joins the group between the dump and the request would
    // be deleted too; only a program that sets our private group id on its
    // own device within that window can cause this.)
    for (const auto &[group, members] : oursByGroup) {
        if (members.size() < 2 || !complete)
            continue; // a single delete is just as cheap / the dump is unreliable
        bool onlyOurs = true;
        for (const auto &l : links)
            if (l.group == group && !members.count(l.ifindex)) {
                onlyOurs = false;
                break;
            }
        if (!onlyOurs)
            continue;
        NetlinkMsg msg = makeLinkMsg(RTM_DELLINK, 0, 0);
        msg.putU32(IFLA_GROUP, group);
        ++rep.groupRequests;
        if (sock.request(msg).error == 0)
            deleted.insert(members.begin(), members.end());
    }

    std::vector<NetlinkMsg> msgs;
    for (int ifindex : ours)
        if (!deleted.count(ifindex))
            msgs.push_back(makeLinkMsg(RTM_DELLINK, 0, ifindex));
    rep.singleDeletes = msgs.size();
    if (!msgs.empty()) {
        auto replies = sock.requestAll(msgs);
        for (const auto &r : replies)
            if (r.error == ENODEV)
                ++rep.vanished;
    }

    // Passthrough parents get their own MAC back once the macvtap is gone.
    for (const auto &r : records) {
        if (!r.savedParentMac || r.parentIndex <= 0)
            continue;
        auto it = byIndex.find(r.parentIndex);
        if (it == byIndex.end() || it->second->name != r.parent)
            continue; // the parent is gone or is another device now
        try {
            netdevSetMac(sock, r.parentIndex, r.parent, *r.savedParentMac);
        } catch (const Error &) {
            // Best effort: teardown must go on.
        }
    }

    if (state && !owner.empty()) {
        std::vector<std::string> names;
        for (const auto &r : records)
            if (!r.ifname.empty())
                names.push_back(r.ifname);
        if (!names.empty())
            state->release(owner, names);
    }
    return rep;
}

} // namespace vd
