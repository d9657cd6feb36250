// macvtap/macvlan devices over rtnetlink (libnl-3): create a domain's
// devices as one transaction, open their tap character devices, bring them
// up, and tear them down in bulk.
//
// Start code:
//     NetlinkSocket nl;
//     auto names = NetdevNameState::forRunDir(paths.runDir);
//     MacvtapTransaction tx(nl, {.owner = domainName, .state = &names});
//     auto &nics = tx.prepare(requests);   // all created + fds open, or throws
//     ... pass nics[i].tapFds[q].get() to QEMU (clear FD_CLOEXEC in the child)
//     auto done = tx.commit();             // from here on the devices stay
//     macvtapSetUp(nl, records);           // once QEMU holds the fds (or
//                                          // MacvtapRequest::up at creation)
//     ... persist the MacvtapRecords in the live state (record.format())
// Stop code (records from MacvtapRecord::parse(); fds: whatever this
// process still holds, usually none once QEMU has exited):
//     macvtapTeardown(nl, records, std::move(remainingFds), &names, domainName);
//     names.release(domainName);           // also drops the owner's group
//
// The tap device is found through /sys/class/net, so the process must see
// the sysfs of the devices' network namespace (true in the root namespace;
// tests use tests/testnetns.h).  A NetlinkSocket is not thread-safe: one per
// thread.
//
// Rules this layer keeps: an auto name comes from the NEXT-FIT pool (no
// SIOCGIFFLAGS probes); the kernel arbitrates with NLM_F_EXCL and a name
// that appeared since the dump is skipped; a device given by the user that
// already exists fails the start and is never deleted; deletion is by
// ifindex (or by link group after checking the group holds only our
// ifindexes); any failure rolls back everything done so far.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/virfile.h"
#include "util/virmacaddr.h"
#include "util/virnetdevmacvlanmode.h"
#include "util/virnetdevnamepool.h"
#include "util/virnetlink.h"

namespace vd {

enum class MacvtapKind { Macvtap, Macvlan };

// "macvtap" / "macvlan": the kernel link kind and the auto-name prefix.
const char *macvtapKindName(MacvtapKind kind);
// MacvlanMode -> MACVLAN_MODE_* of <linux/if_link.h>.
uint32_t macvlanModeToKernel(MacvlanMode mode);

struct MacvtapRequest {
    std::string ifname{};        // empty = allocate from the pool
    std::string parent{};        // the parent link, by name
    MacvlanMode mode = MacvlanMode::Vepa;
    MacAddr mac;                 // the guest NIC's MAC (macvtap must match it)
    unsigned mtu = 0;            // 0 = inherit the parent's
    unsigned queues = 1;         // tap fds to open (>1: IFF_MULTI_QUEUE)
    bool vnetHdr = true;         // IFF_VNET_HDR (virtio-net)
    MacvtapKind kind = MacvtapKind::Macvtap;
    std::vector<MacAddr> sourceMacs{}; // allowed sources, mode Source only
    // Bring the device up in the creating RTM_NEWLINK itself (as libvirt
    // does before starting QEMU) instead of a later macvtapSetUp(): saves
    // one netlink round trip per device.
    bool up = false;
};

// What the stop code needs to undo one device; persist it with the domain.
struct MacvtapRecord {
    std::string ifname{};
    int ifindex = 0;
    std::string parent{};
    int parentIndex = 0;
    MacvlanMode mode = MacvlanMode::Vepa;
    MacvtapKind kind = MacvtapKind::Macvtap;
    std::optional<MacAddr> savedParentMac{}; // passthrough: the parent's MAC before
    uint32_t group = 0;                    // IFLA_GROUP given at creation
    bool autoNamed = false;                // name came from the pool

    // One line of "key=value" words, for the domain's live state:
    //   ifname=macvtap3 ifindex=12 parent=eth0 parentindex=2 mode=bridge
    //   kind=macvtap group=1986265088 autonamed=1 [savedmac=52:54:00:..]
    std::string format() const;
    // nullopt if the text is not such a line.
    static std::optional<MacvtapRecord> parse(const std::string &text);
};

const char *macvlanModeName(MacvlanMode mode);
std::optional<MacvlanMode> macvlanModeFromName(const std::string &name);

struct MacvtapResult {
    MacvtapRecord record{};
    std::vector<UniqueFd> tapFds{}; // O_CLOEXEC; empty for MacvtapKind::Macvlan
};

// Steps at which tests inject failures (the hook throws).  `index` is the
// request index (0 for once-per-transaction steps).
enum class MacvtapStep {
    Dump,      // after the one link dump
    Reserve,   // after a name is chosen for request `index`
    Save,      // after the reservations were written to the state file
               // (before anything is created; again before a retry batch)
    ParentMac, // after the parent's MAC was changed (passthrough)
    Create,    // after device `index` was created
    Open,      // after the tap fds of device `index` were opened
};
const char *macvtapStepName(MacvtapStep step);
using MacvtapFaultHook = std::function<void(MacvtapStep step, size_t index)>;

// A passthrough parent's MAC as the transaction changes it.
struct MacvtapParentMac {
    int ifindex = 0;
    std::string name{};
    MacAddr oldMac;  // restored at rollback / teardown
    MacAddr newMac;  // the guest's
};

// Everything a transaction may create, known before it creates anything:
// what a crash-safe caller writes down first (an intent record), so that
// whoever finds the caller dead can undo it with macvtapReclaim().
struct MacvtapPlan {
    uint32_t group = 0;              // the owner's link group (0: none)
    std::vector<std::string> names{}; // every name reserved so far
    std::vector<MacvtapParentMac> parentMacs{};
};

struct MacvtapOptions {
    std::string owner{};               // key of the reservations (domain name);
                                       // required with `state`
    NetdevNameState *state = nullptr;  // null: no persistent reservations and
                                       // no link group (teardown per ifindex)
    MacvtapFaultHook fault{};          // tests only
    // Called (under the state lock) before the reservations are saved and
    // before anything is changed in the kernel, and again before a retry
    // batch adds names; an exception aborts the transaction.
    std::function<void(const MacvtapPlan &)> beforeCreate{};
    std::string nodeDir = "/dev";      // where private device nodes are made
    unsigned tapWaitMs = 2000;         // bounded wait for the tap's sysfs entry
    size_t poolLimit = 0;              // ids per prefix; 0 = what fits IFNAMSIZ
    unsigned maxNameRetries = 256;     // EEXIST retries per auto-named device
};

class MacvtapTransaction {
public:
    MacvtapTransaction(NetlinkSocket &sock, MacvtapOptions opts);
    // Rolls back unless commit() was called.
    ~MacvtapTransaction();
    MacvtapTransaction(const MacvtapTransaction &) = delete;
    MacvtapTransaction &operator=(const MacvtapTransaction &) = delete;

    // Create every device (one dump, one pipelined batch of RTM_NEWLINK)
    // and open the tap fds.  On any failure everything done so far is
    // undone and the error (naming interface, parent and the kernel's
    // reason) is rethrown.  Call once.
    std::vector<MacvtapResult> &prepare(const std::vector<MacvtapRequest> &requests);

    std::vector<MacvtapResult> &results() noexcept { return results_; }
    // Keep the devices; returns the results (fds included) to the caller.
    std::vector<MacvtapResult> commit();
    // Undo everything now (idempotent, never throws).
    void rollback() noexcept;

private:
    struct Pending;
    struct CreateContext;

    // createAll and its steps (in this order).
    void createAll(const std::vector<MacvtapRequest> &requests);
    void loadNameState(CreateContext &ctx);
    std::vector<Pending> chooseNames(CreateContext &ctx);
    void checkParent(CreateContext &ctx, size_t i);
    std::string expandTemplate(CreateContext &ctx, const MacvtapRequest &rq);
    void planParentMacs(CreateContext &ctx);
    void announcePlan(CreateContext &ctx);
    void changeParentMacs(CreateContext &ctx);
    std::vector<Pending> createBatch(CreateContext &ctx, std::vector<Pending> pending);
    void adoptAfterLostReplies(CreateContext &ctx, const std::vector<Pending> &pending);
    bool renameAfterEexist(CreateContext &ctx, Pending &p, std::exception_ptr *error);
    int createdIfindex(const std::string &name, const NetlinkReply &r);
    void sortResultsByRequest();
    // Helpers of the steps.
    NamePool &poolFor(CreateContext &ctx, MacvtapKind kind);
    std::string nextName(CreateContext &ctx, MacvtapKind kind, const std::string &parent);
    static bool nameInUse(const CreateContext &ctx, const std::string &name);
    MacvtapResult resultFor(const CreateContext &ctx, const Pending &p) const;
    void fault(MacvtapStep step, size_t index);

    void openAll(const std::vector<MacvtapRequest> &requests);

    NetlinkSocket &sock_;
    MacvtapOptions opts_;
    struct SavedMac {
        int ifindex;
        std::string name;
        MacAddr mac;
    };
    std::vector<MacvtapResult> results_;       // created devices
    std::vector<size_t> resultReq_;            // request index of each result
    std::vector<SavedMac> changedParentMacs_;  // passthrough parents to restore
    std::vector<std::string> reservedNames_;   // written to the state file
    bool committed_ = false;
};

// Bring the devices up (or down), one pipelined batch.
void macvtapSetUp(NetlinkSocket &sock, const std::vector<MacvtapRecord> &records, bool up = true);

struct MacvtapTeardownReport {
    size_t groupRequests = 0;   // RTM_DELLINK by group sent
    size_t singleDeletes = 0;   // RTM_DELLINK by ifindex sent
    size_t vanished = 0;        // devices already gone
    size_t notOurs = 0;         // ifindex now names something else: left alone
};

// Undo committed devices: close `fds` in parallel, delete the devices (by
// group when one dump shows the group holds only these ifindexes, else by
// ifindex; a device whose ifindex no longer has the recorded name and kind
// is left alone), restore saved parent MACs and release the names of
// `owner` in `state`.  Safe when devices have vanished; best effort: it
// does not throw for kernel errors on individual devices.
MacvtapTeardownReport macvtapTeardown(NetlinkSocket &sock,
                                      const std::vector<MacvtapRecord> &records,
                                      std::vector<UniqueFd> fds,
                                      NetdevNameState *state, const std::string &owner);

// Undo an abandoned transaction of `owner` whose process died (crash
// recovery, from the MacvtapPlan it wrote down): delete the devices of link
// group plan.group whose names `owner` still holds in `state` (names it
// never reserved were never created), give passthrough parents that still
// carry the guest's MAC their own back, and release everything `owner`
// holds.  The caller makes sure no process of `owner` is alive.  Throws
// when the state file cannot be written (the caller keeps its record).
MacvtapTeardownReport macvtapReclaim(NetlinkSocket &sock, const MacvtapPlan &plan,
                                     NetdevNameState &state, const std::string &owner);

// Open `queues` fds on the tap device of a macvtap (see the .cc for how the
// node is found safely).  Exposed for tests and for re-opening on reconnect.
std::vector<UniqueFd> macvtapOpenTap(const std::string &ifname, int ifindex, unsigned queues,
                                     bool vnetHdr, const std::string &nodeDir = "/dev",
                                     unsigned waitMs = 2000);

// Remove the private device node directories (see the .cc) that processes
// killed while opening tap devices left in `nodeDir`.
void macvtapRemoveStaleNodeDirs(const std::string &nodeDir = "/dev");

// Set a link's MAC address by ifindex.
void netdevSetMac(NetlinkSocket &sock, int ifindex, const std::string &ifname, const MacAddr &mac);

} // namespace vd
