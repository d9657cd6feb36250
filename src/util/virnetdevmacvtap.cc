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
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "util/virerror.h"
#include "util/virprocess.h"
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

const char *macvtapStepName(MacvtapStep step)
{
    switch (step) {
    case MacvtapStep::Dump: return "netlink-dump";
    case MacvtapStep::Reserve: return "name-reserve";
    case MacvtapStep::Save: return "names-save";
    case MacvtapStep::ParentMac: return "parent-mac";
    case MacvtapStep::Create: return "netlink-create";
    case MacvtapStep::Open: return "tap-open";
    }
    return "?";
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
// again, with every node in it, when the object goes away.  Its name says
// which process made it (".virt-direct-tap-PID-STARTTIME-XXXXXX"), so that
// the directory of a process killed meanwhile can be found and removed
// (macvtapRemoveStaleNodeDirs).
static const char kNodeDirPrefix[] = ".virt-direct-tap-";

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
            ProcessId me = ProcessId::self();
            std::string tmpl = parent_ + "/" + kNodeDirPrefix + std::to_string(me.pid) + "-" +
                               std::to_string(me.startTime) + "-XXXXXX";
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

void macvtapRemoveStaleNodeDirs(const std::string &nodeDir)
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(nodeDir, ec)) {
        std::string f = e.path().filename().string();
        if (f.rfind(kNodeDirPrefix, 0) != 0)
            continue;
        unsigned long long pid = 0, start = 0;
        char rest[16];
        if (std::sscanf(f.c_str() + std::strlen(kNodeDirPrefix), "%llu-%llu-%15s", &pid, &start,
                        rest) != 3)
            continue; // not a name we make: leave it alone
        if (ProcessId{static_cast<pid_t>(pid), start}.alive())
            continue;
        std::error_code ignored;
        for (const auto &node : std::filesystem::directory_iterator(e.path(), ignored))
            ::unlink(node.path().c_str());
        ::rmdir(e.path().c_str());
    }
}

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
            // changedParentMacs_ below restores exactly the parents we
            // changed; teardown must not restore them a second time.
            records.back().savedParentMac.reset();
            for (auto &fd : r.tapFds)
                fds.push_back(std::move(fd));
        }
        results_.clear();
        // Without a state object teardown releases no names: the names
        // written to the state file are released below.
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

// ---- createAll, step by step ----------------------------------------------
//
// createAll() = loadNameState, chooseGroup, chooseNames, planParentMacs,
// announcePlan (the caller's intent record, then the reservations saved),
// changeParentMacs, then createBatch until nothing is pending (names the
// kernel found taken are replaced, announced and sent again),
// sortResultsByRequest.
// Every device is in results_ (so rollback() finds it) before the next
// step can throw.

// A device still to be created, and what we know about it.
struct MacvtapTransaction::Pending {
    size_t req;
    std::string name;
    bool autoNamed;
    unsigned tries = 0;
};

// What the steps of createAll share.
struct MacvtapTransaction::CreateContext {
    explicit CreateContext(const std::vector<MacvtapRequest> &r) : requests(r), parents(r.size()) {}

    const std::vector<MacvtapRequest> &requests;
    // Held for the whole of createAll: names are chosen and recorded as
    // reserved before any other virt-direct process can look.
    std::optional<NetdevNameState::Locked> locked;
    NetdevNameState::Data scratch;          // stands in for the file without a state
    NetdevNameState::Data *data = &scratch; // locked->data or scratch
    // ONE dump tells us the parents and every name already in use.
    std::vector<LinkInfo> links;
    std::map<std::string, const LinkInfo *> byName;
    std::set<std::string> altNamesInUse;
    std::set<std::string> reservedAll;      // by anyone, plus names this request gives
    std::set<std::string> reservedByOthers; // by owners other than ours
    std::set<std::string> chosen;           // names picked in this transaction
    std::set<std::string> everReserved;     // ... including ones given up since
    std::map<std::string, NamePool> pools;  // prefix -> pool, made on first use
    uint32_t group = 0;                     // our link group, 0 = none
    std::vector<const LinkInfo *> parents;  // per request
    std::map<size_t, MacAddr> savedMacs;    // passthrough: request -> parent's old MAC
    std::vector<MacvtapParentMac> parentMacs; // the MAC changes to make
};

void MacvtapTransaction::fault(MacvtapStep step, size_t index)
{
    if (opts_.fault)
        opts_.fault(step, index);
}

void MacvtapTransaction::loadNameState(CreateContext &ctx)
{
    if (opts_.state) {
        ctx.locked.emplace(opts_.state->lock());
        ctx.data = &ctx.locked->data;
    }
    ctx.links = dumpLinks(sock_);
    fault(MacvtapStep::Dump, 0);
    for (const auto &l : ctx.links) {
        ctx.byName[l.name] = &l;
        ctx.altNamesInUse.insert(l.altNames.begin(), l.altNames.end());
    }
    if (ctx.locked) {
        ctx.reservedAll = ctx.locked->allReservedNames();
        for (const auto &[owner, o] : ctx.data->owners)
            if (owner != opts_.owner)
                ctx.reservedByOthers.insert(o.names.begin(), o.names.end());
    }
    // Names the user chose in this request are taken for the pool too
    // (e.g. <target dev='macvtap5'/>).
    for (const auto &rq : ctx.requests)
        if (!rq.ifname.empty())
            ctx.reservedAll.insert(rq.ifname);
}

NamePool &MacvtapTransaction::poolFor(CreateContext &ctx, MacvtapKind kind)
{
    std::string prefix = macvtapKindName(kind);
    auto it = ctx.pools.find(prefix);
    if (it != ctx.pools.end())
        return it->second;
    NamePool pool(prefix, opts_.poolLimit);
    for (const auto &l : ctx.links) {
        pool.markTaken(l.name);
        for (const auto &alt : l.altNames)
            pool.markTaken(alt);
    }
    for (const auto &n : ctx.reservedAll)
        pool.markTaken(n);
    pool.setCursor(ctx.data->cursors[prefix]);
    return ctx.pools.emplace(prefix, std::move(pool)).first->second;
}

std::string MacvtapTransaction::nextName(CreateContext &ctx, MacvtapKind kind,
                                         const std::string &parent)
{
    NamePool &pool = poolFor(ctx, kind);
    auto name = pool.allocateName();
    if (!name)
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("no free %s interface name for a device on %s"),
                              pool.prefix().c_str(), parent.c_str()));
    ctx.data->cursors[pool.prefix()] = pool.cursor();
    return *name;
}

bool MacvtapTransaction::nameInUse(const CreateContext &ctx, const std::string &name)
{
    return ctx.byName.count(name) || ctx.altNamesInUse.count(name) ||
           ctx.reservedByOthers.count(name) || ctx.chosen.count(name);
}

// A "%d" template is expanded here, to the lowest free number as the kernel
// would: sent as is, the kernel would pick the name and records,
// reservations and rollback would not know it.
std::string MacvtapTransaction::expandTemplate(CreateContext &ctx, const MacvtapRequest &rq)
{
    auto pct = rq.ifname.find("%d");
    if (pct == std::string::npos)
        return rq.ifname;
    for (unsigned long n = 0;; ++n) {
        std::string name = rq.ifname.substr(0, pct) + std::to_string(n) + rq.ifname.substr(pct + 2);
        if (name.size() >= IFNAMSIZ)
            throw Error(VIR_ERR_INTERNAL_ERROR,
                        strprintf(_("no free interface name for template '%s'"), rq.ifname.c_str()),
                        VIR_FROM_NET);
        if (!nameInUse(ctx, name)) {
            // "macvtap%d" expands into the pool's own names.
            poolFor(ctx, rq.kind).markTaken(name);
            return name;
        }
    }
}

// The parent exists and its MTU allows ours.
void MacvtapTransaction::checkParent(CreateContext &ctx, size_t i)
{
    const auto &rq = ctx.requests[i];
    auto pit = ctx.byName.find(rq.parent);
    if (rq.parent.empty() || pit == ctx.byName.end())
        raiseSystem(ENODEV, strprintf(_("Unable to get index for interface %s"), rq.parent.c_str()));
    ctx.parents[i] = pit->second;
    unsigned parentMtu = pit->second->mtu;
    if (rq.mtu && parentMtu && rq.mtu > parentMtu)
        throw Error(VIR_ERR_CONFIG_UNSUPPORTED,
                    strprintf(_("MTU %u of interface %s is larger than the MTU %u of its parent %s"),
                              rq.mtu, rq.ifname.empty() ? macvtapKindName(rq.kind) : rq.ifname.c_str(),
                              parentMtu, rq.parent.c_str()),
                    VIR_FROM_NET);
}

std::vector<MacvtapTransaction::Pending> MacvtapTransaction::chooseNames(CreateContext &ctx)
{
    std::vector<Pending> pending;
    for (size_t i = 0; i < ctx.requests.size(); ++i) {
        const auto &rq = ctx.requests[i];
        checkParent(ctx, i);
        Pending p{i, rq.ifname, rq.ifname.empty()};
        if (p.autoNamed) {
            p.name = nextName(ctx, rq.kind, rq.parent);
        } else {
            p.name = expandTemplate(ctx, rq);
            if (p.name.size() >= IFNAMSIZ)
                throw Error(VIR_ERR_CONFIG_UNSUPPORTED,
                            strprintf(_("interface name '%s' is too long"), p.name.c_str()),
                            VIR_FROM_NET);
            // The user's name is used as given; if it exists the start fails
            // and the existing device is not ours to touch.
            if (nameInUse(ctx, p.name))
                raiseSystem(EEXIST, strprintf(_("error creating %s interface %s@%s (%s)"),
                                              macvtapKindName(rq.kind), p.name.c_str(),
                                              rq.parent.c_str(), rq.mac.str().c_str()));
        }
        ctx.chosen.insert(p.name);
        ctx.everReserved.insert(p.name);
        if (!opts_.owner.empty())
            ctx.data->owners[opts_.owner].names.insert(p.name);
        pending.push_back(p);
        fault(MacvtapStep::Reserve, i);
    }
    return pending;
}

// Passthrough: the macvtap takes over the parent's MAC, so the parent gets
// the guest's MAC; the old one is restored at teardown.
void MacvtapTransaction::planParentMacs(CreateContext &ctx)
{
    for (size_t i = 0; i < ctx.requests.size(); ++i) {
        const auto &rq = ctx.requests[i];
        const LinkInfo *parent = ctx.parents[i];
        if (rq.mode != MacvlanMode::Passthrough || !parent->mac)
            continue;
        ctx.savedMacs[i] = *parent->mac;
        if (*parent->mac != rq.mac)
            ctx.parentMacs.push_back({parent->ifindex, parent->name, *parent->mac, rq.mac});
    }
}

// Tell the caller everything that may be created, then save the
// reservations: both before the kernel is asked for anything, so that a
// crash from here on leaves a record of what to undo.
void MacvtapTransaction::announcePlan(CreateContext &ctx)
{
    if (opts_.beforeCreate) {
        MacvtapPlan plan;
        plan.group = ctx.group;
        plan.names.assign(ctx.everReserved.begin(), ctx.everReserved.end());
        plan.parentMacs = ctx.parentMacs;
        opts_.beforeCreate(plan);
    }
    if (ctx.locked) {
        ctx.locked->save();
        reservedNames_.assign(ctx.everReserved.begin(), ctx.everReserved.end());
    }
    fault(MacvtapStep::Save, 0);
}

void MacvtapTransaction::changeParentMacs(CreateContext &ctx)
{
    for (size_t i = 0; i < ctx.requests.size(); ++i) {
        const auto &rq = ctx.requests[i];
        if (rq.mode != MacvlanMode::Passthrough || !ctx.savedMacs.count(i))
            continue;
        const LinkInfo *parent = ctx.parents[i];
        if (ctx.savedMacs[i] != rq.mac) {
            netdevSetMac(sock_, parent->ifindex, parent->name, rq.mac);
            // Remembered at once so that rollback restores it even if the
            // creation below fails.
            changedParentMacs_.push_back({parent->ifindex, parent->name, ctx.savedMacs[i]});
        }
        fault(MacvtapStep::ParentMac, i);
    }
}

MacvtapResult MacvtapTransaction::resultFor(const CreateContext &ctx, const Pending &p) const
{
    const auto &rq = ctx.requests[p.req];
    MacvtapResult res;
    res.record.ifname = p.name;
    res.record.parent = rq.parent;
    res.record.parentIndex = ctx.parents[p.req]->ifindex;
    res.record.mode = rq.mode;
    res.record.kind = rq.kind;
    res.record.group = ctx.group;
    res.record.autoNamed = p.autoNamed;
    return res;
}

// The answers to a batch were lost, so we do not know which creates
// succeeded.  Adopt, for rollback, exactly the devices that match what we
// asked for (name, kind, parent, MAC and our private group).
void MacvtapTransaction::adoptAfterLostReplies(CreateContext &ctx, const std::vector<Pending> &pending)
{
    for (const auto &l : dumpLinks(sock_)) {
        for (const auto &p : pending) {
            const auto &rq = ctx.requests[p.req];
            if (l.name == p.name && l.kind == macvtapKindName(rq.kind) &&
                l.parentIndex == ctx.parents[p.req]->ifindex && l.group == ctx.group &&
                (rq.mode == MacvlanMode::Passthrough || (l.mac && *l.mac == rq.mac))) {
                MacvtapResult res = resultFor(ctx, p);
                res.record.ifindex = l.ifindex;
                res.record.parentIndex = l.parentIndex;
                results_.push_back(std::move(res));
                resultReq_.push_back(p.req);
            }
        }
    }
}

// The new device's ifindex: from the echo of its RTM_NEWLINK, or, on a
// kernel without NLM_F_ECHO for links, by asking for it by name.
int MacvtapTransaction::createdIfindex(const std::string &name, const NetlinkReply &r)
{
    for (const auto &e : r.echoes) {
        auto li = parseLinkMessage(reinterpret_cast<const nlmsghdr *>(e.data()));
        if (li && li->name == name)
            return li->ifindex;
    }
    int ifindex = 0;
    NetlinkMsg get = makeLinkMsg(RTM_GETLINK, 0);
    get.putString(IFLA_IFNAME, name);
    NetlinkReply gr = sock_.request(get);
    for (const auto &e : gr.echoes)
        if (auto li = parseLinkMessage(reinterpret_cast<const nlmsghdr *>(e.data())))
            ifindex = li->ifindex;
    return ifindex;
}

// A name the kernel found taken (a foreign device appeared since the dump):
// pick the next one.  False when the pool ran dry (*error is then set).
bool MacvtapTransaction::renameAfterEexist(CreateContext &ctx, Pending &p, std::exception_ptr *error)
{
    const auto &rq = ctx.requests[p.req];
    poolFor(ctx, rq.kind).markTaken(p.name);
    if (!opts_.owner.empty())
        ctx.data->owners[opts_.owner].names.erase(p.name);
    try {
        p.name = nextName(ctx, rq.kind, rq.parent);
    } catch (...) {
        // Not thrown yet: the rest of this batch may have created devices
        // that must be recorded for rollback first.
        if (!*error)
            *error = std::current_exception();
        return false;
    }
    if (!opts_.owner.empty())
        ctx.data->owners[opts_.owner].names.insert(p.name);
    ctx.everReserved.insert(p.name);
    ++p.tries;
    return true;
}

// Send one pipelined batch of RTM_NEWLINK for everything pending; returns
// what must be sent again under a new name.
std::vector<MacvtapTransaction::Pending> MacvtapTransaction::createBatch(CreateContext &ctx,
                                                                         std::vector<Pending> pending)
{
    std::vector<NetlinkMsg> msgs;
    for (const auto &p : pending)
        msgs.push_back(makeCreateMsg(ctx.requests[p.req], p.name, ctx.parents[p.req]->ifindex, ctx.group));
    std::vector<NetlinkReply> replies;
    try {
        replies = sock_.requestAll(msgs);
    } catch (...) {
        adoptAfterLostReplies(ctx, pending);
        throw;
    }

    std::vector<Pending> retry;
    std::exception_ptr firstError;
    std::vector<size_t> createdNow;
    for (size_t k = 0; k < pending.size(); ++k) {
        Pending &p = pending[k];
        const auto &rq = ctx.requests[p.req];
        const NetlinkReply &r = replies[k];
        if (r.error == EEXIST && p.autoNamed && p.tries < opts_.maxNameRetries) {
            if (renameAfterEexist(ctx, p, &firstError))
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
                ctx.data->owners[opts_.owner].names.erase(p.name);
            continue;
        }
        MacvtapResult res = resultFor(ctx, p);
        if (ctx.savedMacs.count(p.req))
            res.record.savedParentMac = ctx.savedMacs[p.req];
        res.record.ifindex = createdIfindex(p.name, r);
        results_.push_back(std::move(res));
        resultReq_.push_back(p.req);
        createdNow.push_back(p.req);
    }
    // Only now, with every device of the batch recorded for rollback.
    if (firstError)
        std::rethrow_exception(firstError);
    for (size_t req : createdNow)
        fault(MacvtapStep::Create, req);
    return retry;
}

// Replies to retried names came later: restore request order.
void MacvtapTransaction::sortResultsByRequest()
{
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
}

void MacvtapTransaction::createAll(const std::vector<MacvtapRequest> &requests)
{
    if (opts_.state && opts_.owner.empty())
        raiseInternal(_("netdev reservations need an owner"));
    CreateContext ctx(requests);
    loadNameState(ctx);
    // Link groups need the state file: it is what keeps them unique.
    if (ctx.locked && !opts_.owner.empty())
        ctx.group = chooseGroup(*ctx.data, opts_.owner, ctx.links);
    std::vector<Pending> pending = chooseNames(ctx);
    planParentMacs(ctx);
    announcePlan(ctx);
    changeParentMacs(ctx);
    for (;;) {
        pending = createBatch(ctx, std::move(pending));
        if (pending.empty())
            break;
        announcePlan(ctx); // the replacement names
    }
    sortResultsByRequest();
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
        fault(MacvtapStep::Open, resultReq_[i]);
    }
}

// ---- up / teardown -------------------------------------------------------

MacvtapTeardownReport macvtapReclaim(NetlinkSocket &sock, const MacvtapPlan &plan,
                                     NetdevNameState &state, const std::string &owner)
{
    auto locked = state.lock();
    std::set<std::string> held;
    if (auto it = locked.data.owners.find(owner); it != locked.data.owners.end())
        held = it->second.names;
    std::set<std::string> planned(plan.names.begin(), plan.names.end());
    std::vector<MacvtapRecord> records;
    std::vector<LinkInfo> links = dumpLinks(sock);
    for (const auto &l : links) {
        bool ourKind = l.kind == macvtapKindName(MacvtapKind::Macvtap) ||
                       l.kind == macvtapKindName(MacvtapKind::Macvlan);
        if (!ourKind || !held.count(l.name) || !planned.count(l.name) || l.group != plan.group)
            continue;
        MacvtapRecord r;
        r.ifname = l.name;
        r.ifindex = l.ifindex;
        r.kind = l.kind == "macvlan" ? MacvtapKind::Macvlan : MacvtapKind::Macvtap;
        r.group = l.group;
        records.push_back(std::move(r));
    }
    // The names are released below, under the lock we hold.
    MacvtapTeardownReport rep = macvtapTeardown(sock, records, {}, nullptr, owner);
    for (const auto &pm : plan.parentMacs) {
        for (const auto &l : links) {
            if (l.ifindex != pm.ifindex || l.name != pm.name || !l.mac || *l.mac != pm.newMac)
                continue;
            try {
                netdevSetMac(sock, pm.ifindex, pm.name, pm.oldMac);
            } catch (const Error &) {
                // Best effort, like teardown.
            }
        }
    }
    // Nothing held: nothing to write (which a full disk might refuse).
    if (locked.data.owners.erase(owner))
        locked.save();
    return rep;
}

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
    // A dump that stayed inconsistent (links changing all the time) may
    // miss entries: ask for a missing ifindex on its own before treating
    // the device as gone, or it would be left behind.
    std::deque<LinkInfo> askedFor;
    auto linkAt = [&](int ifindex) -> const LinkInfo * {
        if (auto it = byIndex.find(ifindex); it != byIndex.end())
            return it->second;
        if (complete)
            return nullptr;
        NetlinkMsg get = makeLinkMsg(RTM_GETLINK, 0, ifindex);
        get.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        const LinkInfo *found = nullptr;
        try {
            for (const auto &e : sock.request(get).echoes)
                if (auto li = parseLinkMessage(reinterpret_cast<const nlmsghdr *>(e.data()));
                    li && li->ifindex == ifindex) {
                    askedFor.push_back(std::move(*li));
                    found = &askedFor.back();
                }
        } catch (const Error &) {
            // Best effort, like the rest of teardown.
        }
        byIndex[ifindex] = found;
        return found;
    };

    // Ours = the ifindex still carries the name and kind we created.
    // ifindexes are allocated cyclically, so a recycled ifindex with our
    // old name and kind is not a practical concern.
    std::set<int> ours;
    std::map<uint32_t, std::set<int>> oursByGroup;
    for (const auto &r : records) {
        if (r.ifindex <= 0)
            continue;
        const LinkInfo *found = linkAt(r.ifindex);
        if (!found) {
            ++rep.vanished;
            continue;
        }
        const LinkInfo &l = *found;
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
        const LinkInfo *parent = linkAt(r.parentIndex);
        if (!parent || parent->name != r.parent)
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
