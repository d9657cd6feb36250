// Benchmark of the macvtap lifecycle (make bench).
//
// In a private network namespace with one veth parent it creates and tears
// down N macvtaps with their tap fds, and measures in the same run the
// baselines: `ip -batch` create/delete of the same number of devices, a
// libvirt-like serial teardown (close each fd, delete each device), and the
// classic probing allocator (SIOCGIFFLAGS on macvtap0, macvtap1, ... until
// a free name is found, then create it).  One line per case: seconds, ratio
// to the ip -batch baseline, SIOCGIFFLAGS probes and netlink messages.
//
//     netdevbench [N...]      default N = 1 10 82 250 1000
#include <config.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/virerror.h"
#include "util/virnetdevmacvtap.h"
#include "virnetns.h"
#include "util/virthread.h"

using namespace vd;
using Clock = std::chrono::steady_clock;

// Every ioctl() of this program (the netdev library included: it is linked
// statically into it) goes through here, so the SIOCGIFFLAGS column is
// measured, not claimed.
static std::atomic<long> gSiocgifflags{0};
extern "C" int ioctl(int fd, unsigned long request, ...) noexcept
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (request == SIOCGIFFLAGS)
        ++gSiocgifflags;
    return static_cast<int>(::syscall(SYS_ioctl, fd, request, arg));
}

namespace {

const char kParent[] = "vdp0";

double since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void ipBatchHere(const std::string &cmds)
{
    std::string out;
    if (runIp({"-batch", "-"}, cmds, &out) != 0)
        throw std::runtime_error("ip -batch failed: " + out);
}

void printHeader()
{
    std::printf("%-28s %5s %9s %8s %10s %12s %9s\n", "case", "N", "seconds", "ratio",
                "ms/device", "SIOCGIFFLAGS", "netlink");
}

void printLine(const char *name, size_t n, double secs, double base, long probes, long msgs,
               const char *note = "")
{
    char ratio[32] = "-";
    if (base > 0)
        std::snprintf(ratio, sizeof(ratio), "%.2fx", secs / base);
    char nl[32] = "-";
    if (msgs >= 0)
        std::snprintf(nl, sizeof(nl), "%ld", msgs);
    char pr[32] = "-";
    if (probes >= 0)
        std::snprintf(pr, sizeof(pr), "%ld", probes);
    std::printf("%-28s %5zu %9.4f %8s %10.3f %12s %9s %s\n", name, n, secs, ratio,
                secs * 1000.0 / static_cast<double>(n), pr, nl, note);
    std::fflush(stdout);
}

std::vector<MacvtapRequest> requests(size_t n)
{
    std::vector<MacvtapRequest> rs(n);
    for (size_t i = 0; i < n; ++i) {
        rs[i].parent = kParent;
        rs[i].mode = MacvlanMode::Bridge;
        rs[i].mac = *MacAddr::parse("52:54:00:00:00:00");
        rs[i].mac.bytes[3] = static_cast<unsigned char>(i >> 16);
        rs[i].mac.bytes[4] = static_cast<unsigned char>(i >> 8);
        rs[i].mac.bytes[5] = static_cast<unsigned char>(i);
        rs[i].up = true; // in the creating message, as libvirt brings them up before QEMU
    }
    return rs;
}

// The classic allocator: probe names with SIOCGIFFLAGS until one is free.
long probeFreeName(int sock, std::string &name)
{
    long probes = 0;
    for (unsigned id = 0;; ++id) {
        ifreq ifr{};
        std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "macvtap%u", id);
        ++probes;
        if (::ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 && errno == ENODEV) {
            name = ifr.ifr_name;
            return probes;
        }
    }
}

// The allocator alone: next-fit over a pool with every third id taken by
// "foreign" devices, in a namespace-independent loop.
void poolCase()
{
    const size_t n = 1000000;
    NamePool pool("macvtap");
    for (size_t id = 0; id < 3 * n; id += 3)
        pool.markTaken(id);
    auto t0 = Clock::now();
    size_t sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += *pool.allocate();
    double secs = since(t0);
    char note[96];
    std::snprintf(note, sizeof(note), "(%.0f ns per name; 1/3 of ids pre-taken%s)",
                  secs * 1e9 / static_cast<double>(n), sum ? "" : "?");
    printLine("name pool allocate (no I/O)", n, secs, 0, 0, 0, note);
}

// What the targets are checked against, per N.
struct Result {
    double setup = 0, ipCreate = 0, teardown = 0;
    long setupProbes = 0;
};
std::map<size_t, Result> gResults;

void printTargets()
{
    std::printf("\ntargets:\n");
    if (gResults.count(82)) {
        const Result &r = gResults[82];
        std::printf("  setup of 82 within 2x of ip -batch create: %.2fx, %ld SIOCGIFFLAGS -> %s\n",
                    r.setup / r.ipCreate, r.setupProbes,
                    r.setup <= 2 * r.ipCreate && r.setupProbes == 0 ? "met" : "NOT met");
        std::printf("  teardown of 82 (fds included) under 0.15 s: %.3f s -> %s\n", r.teardown,
                    r.teardown < 0.15 ? "met" : "NOT met");
    }
    if (gResults.count(82) && gResults.count(1000)) {
        const Result &a = gResults[82], &b = gResults[1000];
        std::printf("  per-device cost 82 -> 1000: setup %.3f -> %.3f ms, teardown %.3f -> %.3f ms\n",
                    a.setup * 1000 / 82, b.setup * 1000 / 1000, a.teardown * 1000 / 82,
                    b.teardown * 1000 / 1000);
    }
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void deleteAllMacvtaps(NetlinkSocket &nl)
{
    std::vector<NetlinkMsg> dels;
    for (auto &l : dumpLinks(nl))
        if (l.kind == "macvtap")
            dels.push_back(makeLinkMsg(RTM_DELLINK, 0, l.ifindex));
    nl.requestAll(dels);
}

// Timings are the median of `reps` runs (the machine is shared and noisy).
void runCase(size_t n, const std::string &stateDir, unsigned reps, bool withSerial,
             double probeBudget)
{
    NetlinkSocket nl;
    auto rs = requests(n);

    // Baseline: ip -batch create of the same devices (cleaned up unmeasured
    // by group, except once, measured, one by one as ip -batch does it).
    const char kIpGroup[] = "4242";
    std::string create, del;
    for (size_t i = 0; i < n; ++i) {
        create += "link add link " + std::string(kParent) + " name ipb" + std::to_string(i) +
                  " address " + rs[i].mac.str() + " group " + kIpGroup +
                  " up type macvtap mode bridge\n";
        del += "link del ipb" + std::to_string(i) + "\n";
    }
    std::vector<double> t;
    for (unsigned r = 0; r < reps; ++r) {
        auto t0 = Clock::now();
        ipBatchHere(create);
        t.push_back(since(t0));
        if (r + 1 < reps)
            ipBatchHere(std::string("link del group ") + kIpGroup + "\n");
    }
    double ipCreate = median(t);
    auto t0 = Clock::now();
    ipBatchHere(del);
    double ipDelete = since(t0);
    printLine("ip -batch create", n, ipCreate, ipCreate, -1, -1);
    printLine("ip -batch delete (1 by 1)", n, ipDelete, ipDelete, -1, -1);

    // virt-direct: names + create + open fds + up, then teardown.
    NetdevNameState state(stateDir);
    std::vector<double> ts, tt;
    long setupMsgs = 0, tdMsgs = 0, setupProbes = 0, tdProbes = 0;
    MacvtapTeardownReport rep;
    for (unsigned r = 0; r < reps; ++r) {
        uint64_t m0 = netlinkStats().requests;
        long p0 = gSiocgifflags;
        t0 = Clock::now();
        MacvtapTransaction tx(nl, {.owner = "bench", .state = &state});
        tx.prepare(rs);
        auto done = tx.commit();
        std::vector<MacvtapRecord> recs;
        std::vector<UniqueFd> fds;
        for (auto &d : done) {
            recs.push_back(d.record);
            for (auto &fd : d.tapFds)
                fds.push_back(std::move(fd));
        }
        ts.push_back(since(t0));
        setupMsgs = static_cast<long>(netlinkStats().requests - m0);
        setupProbes = gSiocgifflags - p0;

        m0 = netlinkStats().requests;
        t0 = Clock::now();
        p0 = gSiocgifflags;
        rep = macvtapTeardown(nl, recs, std::move(fds), &state, "bench");
        tt.push_back(since(t0));
        tdMsgs = static_cast<long>(netlinkStats().requests - m0);
        tdProbes = gSiocgifflags - p0;
    }
    printLine("virt-direct setup", n, median(ts), ipCreate, setupProbes, setupMsgs, "(names+create+fds+up)");
    gResults[n] = {median(ts), ipCreate, median(tt), setupProbes};
    char note[96];
    std::snprintf(note, sizeof(note), "(fds+delete; %zu group, %zu single req)", rep.groupRequests,
                  rep.singleDeletes);
    printLine("virt-direct teardown", n, median(tt), ipDelete, tdProbes, tdMsgs, note);

    // libvirt-like teardown: serial closes, one delete per device.
    if (withSerial) {
        MacvtapTransaction tx2(nl, {});
        tx2.prepare(rs);
        auto d2 = tx2.commit();
        uint64_t m0 = netlinkStats().requests;
        t0 = Clock::now();
        for (auto &d : d2) {
            d.tapFds.clear(); // serial close
            NetlinkMsg msg = makeLinkMsg(RTM_DELLINK, 0, d.record.ifindex);
            nl.request(msg);
        }
        double serial = since(t0);
        printLine("serial teardown (libvirt)", n, serial, ipDelete, 0,
                  static_cast<long>(netlinkStats().requests - m0), "(close+delete each)");
    }

    // Baseline: the probing allocator (names + create, one at a time).
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int parent = 0;
    for (auto &l : dumpLinks(nl))
        if (l.name == kParent)
            parent = l.ifindex;
    long probes0 = gSiocgifflags;
    uint64_t m0 = netlinkStats().requests;
    t0 = Clock::now();
    size_t made = 0;
    bool stopped = false;
    while (made < n) {
        std::string name;
        probeFreeName(sock.get(), name);
        NetlinkMsg msg = makeLinkMsg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        msg.putString(IFLA_IFNAME, name);
        msg.putU32(IFLA_LINK, static_cast<uint32_t>(parent));
        msg.putBytes(IFLA_ADDRESS, rs[made].mac.bytes.data(), 6);
        void *li = msg.nestStart(IFLA_LINKINFO);
        msg.putString(IFLA_INFO_KIND, "macvtap");
        void *data = msg.nestStart(IFLA_INFO_DATA);
        msg.putU32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
        msg.nestEnd(data);
        msg.nestEnd(li);
        if (nl.request(msg).error)
            break;
        ++made;
        if (made < n && since(t0) > probeBudget) {
            stopped = true;
            break;
        }
    }
    double probing = since(t0);
    long probes = gSiocgifflags - probes0;
    long msgs = static_cast<long>(netlinkStats().requests - m0);
    char pnote[96] = "(probe+create, no fds)";
    if (stopped)
        std::snprintf(pnote, sizeof(pnote), "(stopped after %zu of %zu devices: over %.0f s)",
                      made, n, probeBudget);
    printLine("probing allocator", made ? made : 1, probing,
              ipCreate * static_cast<double>(made) / static_cast<double>(n), probes, msgs, pnote);
    deleteAllMacvtaps(nl); // not measured
}

} // namespace

int main(int argc, char **argv)
{
    initGettext();
    if (::geteuid() != 0) {
        std::printf("netdevbench: SKIP (needs root to create a network namespace)\n");
        return 0;
    }
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; ++i)
        sizes.push_back(std::strtoul(argv[i], nullptr, 10));
    if (sizes.empty())
        sizes = {1, 10, 82, 250, 1000};

    try {
        NamedNetns ns("vdbench");
        ns.ip({"link", "add", kParent, "type", "veth", "peer", "name", "vdp1"});
        ns.ip({"link", "set", kParent, "up"});
        ns.ip({"link", "set", "vdp1", "up"});

        std::string tmpl = "/tmp/vd-bench-XXXXXX";
        if (!::mkdtemp(tmpl.data()))
            raiseSystem(errno, "mkdtemp");
        struct Cleanup {
            std::string dir;
            ~Cleanup()
            {
                std::error_code ec;
                std::filesystem::remove_all(dir, ec);
            }
        } cleanup{tmpl};

        // Enter the namespace for good (we are still single-threaded): the
        // `ip` baselines and our code then run side by side in it, and
        // sysfs shows its devices.  The root namespace is never touched.
        pid_t pid = ::fork();
        if (pid < 0)
            raiseSystem(errno, "fork");
        if (pid == 0) {
            int rc = 0;
            try {
                enterNetnsWithSysfs(ns.path());
                std::printf("netdevbench: macvtap (mode bridge) on a veth parent in netns %s\n",
                            ns.name().c_str());
                printHeader();
                poolCase();
                for (size_t n : sizes)
                    runCase(n, tmpl + "/netdev", n >= 1000 ? 3 : 5, n <= 82, 20.0);
                printTargets();
            } catch (const std::exception &e) {
                std::fprintf(stderr, "netdevbench: %s\n", e.what());
                rc = 1;
            }
            std::fflush(stdout);
            ::_exit(rc);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "netdevbench: %s\n", e.what());
        return 1;
    }
}
