#include <config.h>

#include "qemu/qemu_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <thread>

#include "conf/domain_store.h"
#include "conf/domain_xml.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_intent.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain_lock.h"
#include "qemu/qemu_host.h"
#include "qemu/qemu_monitor.h"
#include "qemu/qemu_supervisor.h"
#include "util/virerror.h"
#include "util/virfault.h"
#include "util/virfile.h"
#include "util/virjson.h"
#include "util/virnetdevnamepool.h"
#include "util/virnetlink.h"
#include "util/virprocess.h"

namespace vd::qemu {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string statePath(const Paths &p, const std::string &n) { return p.runDir + "/" + n + ".state.json"; }
std::string controlPath(const Paths &p, const std::string &n) { return p.runDir + "/" + n + ".ctl"; }
std::string logPath(const Paths &p, const std::string &n) { return p.runDir + "/" + n + ".log"; }
std::string netdevStateDir(const Paths &p) { return p.runDir + "/netdev"; }

void removeQuietly(const std::string &path) { ::unlink(path.c_str()); }

// All but the state file: that one goes last, once teardown is complete
// (see teardownDomainHost).
void removeRuntimeFiles(const Paths &paths, const std::string &name)
{
    removeQuietly(paths.domainRunPath(name));
    removeQuietly(controlPath(paths, name));
    removeQuietly(qmpSocketPath(paths, name));
}

// Temporaries of writeFileAtomic ("FILE.XXXXXX") that a process killed
// while writing the domain's live XML or intent record (under the domain
// lock) left, and with `stateFile` those of a dead supervisor's state file
// (which it writes without that lock).
void removeTempFiles(const Paths &paths, const std::string &name, bool stateFile)
{
    std::error_code ec;
    std::vector<std::string> kinds = {".xml.", ".intent.json."};
    if (stateFile)
        kinds.push_back(".state.json.");
    for (const auto &e : std::filesystem::directory_iterator(paths.runDir, ec)) {
        std::string f = e.path().filename().string();
        for (const auto &kind : kinds) {
            std::string prefix = name + kind;
            if (f.size() == prefix.size() + 6 && f.compare(0, prefix.size(), prefix) == 0)
                removeQuietly(e.path().string());
        }
    }
}

// The arguments of a live process; empty when it is gone or a zombie (a
// zombie has an empty command line: it is gone for our purposes).
std::vector<std::string> processArgv(pid_t pid)
{
    std::vector<std::string> argv;
    if (pid <= 0 || (::kill(pid, 0) < 0 && errno == ESRCH))
        return argv;
    std::string cmdline;
    try {
        cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
    } catch (const Error &) {
        return argv;
    }
    size_t start = 0;
    while (start < cmdline.size()) {
        size_t end = cmdline.find('\0', start);
        if (end == std::string::npos)
            end = cmdline.size();
        argv.push_back(cmdline.substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

// A pid names our process only if its arguments say so exactly: guards the
// pid checks against pid reuse after a crash.  Substring matching would
// take the supervisor or QEMU of domain "web2" for those of "web" and kill
// another domain.
bool isSupervisorOf(pid_t pid, const std::string &name)
{
    auto argv = processArgv(pid);
    for (size_t i = 1; i + 1 < argv.size(); ++i)
        if (argv[i] == "supervise" && argv[i + 1] == name)
            return true;
    return false;
}

// The domain name in QEMU's "-name guest=NAME,..." (commas in NAME are
// doubled), or the plain "-name NAME" of old QEMUs.
bool isQemuOf(pid_t pid, const std::string &name)
{
    auto argv = processArgv(pid);
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
        if (argv[i] != "-name")
            continue;
        const std::string &v = argv[i + 1];
        if (v == name)
            return true;
        if (v.rfind("guest=", 0) != 0)
            continue;
        std::string guest;
        for (size_t j = 6; j < v.size(); ++j) {
            if (v[j] == ',' && j + 1 < v.size() && v[j + 1] == ',')
                ++j;
            else if (v[j] == ',')
                break;
            guest.push_back(v[j]);
        }
        if (guest == name)
            return true;
    }
    return false;
}

// Wait until `pid` is no longer the process `isOurs` recognises.
bool waitGone(pid_t pid, const std::string &name, bool (*isOurs)(pid_t, const std::string &),
              milliseconds timeout)
{
    auto deadline = Clock::now() + timeout;
    while (isOurs(pid, name)) {
        if (Clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
}

JsonValue recordsToJson(const std::vector<MacvtapRecord> &records)
{
    JsonValue arr = JsonValue::array();
    for (const auto &r : records)
        arr.append(r.format());
    return arr;
}

std::vector<MacvtapRecord> recordsFromJson(const JsonValue *arr)
{
    std::vector<MacvtapRecord> out;
    if (!arr || !arr->isArray())
        return out;
    for (const auto &item : arr->asArray())
        if (item.isString())
            if (auto r = MacvtapRecord::parse(item.asString()))
                out.push_back(*r);
    return out;
}

// Domain ids, like libvirt's, count up for the lifetime of the run
// directory; a short flock serialises concurrent starts.
int allocateDomainId(const Paths &paths)
{
    makePath(paths.runDir, 0700);
    std::string lockPath = paths.runDir + "/domain-ids";
    UniqueFd fd(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd)
        raiseSystem(errno, strprintf(_("cannot open '%s'"), lockPath.c_str()));
    if (::flock(fd.get(), LOCK_EX) < 0)
        raiseSystem(errno, strprintf(_("cannot lock '%s'"), lockPath.c_str()));
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
    int last = n > 0 ? std::atoi(buf) : 0;
    std::string next = std::to_string(last + 1) + "\n";
    faultPoint("domain-id");
    if (::ftruncate(fd.get(), 0) < 0 ||
        ::pwrite(fd.get(), next.data(), next.size(), 0) != static_cast<ssize_t>(next.size()))
        raiseSystem(errno, strprintf(_("cannot write '%s'"), lockPath.c_str()));
    return last + 1;
}

struct StateFile {
    pid_t supervisorPid = -1;
    pid_t qemuPid = -1;
    std::vector<MacvtapRecord> macvtaps;
};

std::optional<StateFile> readStateFile(const Paths &paths, const std::string &name)
{
    std::string text;
    try {
        text = readFile(statePath(paths, name));
    } catch (const Error &) {
        return std::nullopt;
    }
    StateFile st;
    try {
        JsonValue js = JsonValue::parse(text);
        if (auto *p = js.find("supervisorPid"))
            st.supervisorPid = static_cast<pid_t>(p->asInt());
        if (auto *p = js.find("qemuPid"))
            st.qemuPid = static_cast<pid_t>(p->asInt());
        if (auto *s = js.find("state"))
            st.macvtaps = recordsFromJson(s->find("macvtaps"));
    } catch (const Error &) {
        // A torn file can only come from a crash; treat it as stale.
    }
    return st;
}

// The supervisor is gone: finish its job.  Called under the domain lock.
void cleanupStale(const Paths &paths, const std::string &name, const StateFile &st)
{
    if (isQemuOf(st.qemuPid, name)) {
        ::kill(st.qemuPid, SIGKILL);
        waitGone(st.qemuPid, name, isQemuOf, milliseconds(5000));
    }
    teardownDomainHost(paths, name, st.macvtaps, {});
    removeTempFiles(paths, name, true);
    removeQuietly(statePath(paths, name));
}

bool supervisorAlive(const StateFile &st, const std::string &name)
{
    return isSupervisorOf(st.supervisorPid, name);
}

// ---- crash-safe start: undo or finish through the intent record ----------

bool waitProcessGone(const ProcessId &p, milliseconds timeout)
{
    auto deadline = Clock::now() + timeout;
    while (p.alive()) {
        if (Clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
}

// The supervisor of a start whose owner is gone, not ready: SIGTERM makes
// it cancel the start (stop QEMU, tear down, exit); SIGKILL if it hangs.
void stopSupervisorOf(const ProcessId &sup)
{
    if (!sup.alive())
        return;
    ::kill(sup.pid, SIGTERM);
    SupervisorConfig defaults;
    if (!waitProcessGone(sup, defaults.shutdownTimeout + std::chrono::seconds(5))) {
        ::kill(sup.pid, SIGKILL);
        waitProcessGone(sup, milliseconds(5000));
    }
}

// Undo everything a start may have done, as its intent record describes:
// used by the start itself when it fails and by whoever finds its owner
// dead.  Called under the domain lock.  Throws when the name reservations
// cannot be released (e.g. the disk is full): the record then stays, and
// the next command tries again.
void undoStart(const Paths &paths, StartIntent intent)
{
    const std::string &name = intent.name;
    if (intent.supervisor)
        stopSupervisorOf(*intent.supervisor);
    if (auto st = readStateFile(paths, name); st && isQemuOf(st->qemuPid, name)) {
        ::kill(st->qemuPid, SIGKILL);
        waitGone(st->qemuPid, name, isQemuOf, milliseconds(5000));
    }
    NetlinkSocket sock;
    NetdevNameState names(netdevStateDir(paths));
    if (intent.owner.pid <= 0) {
        // An unreadable record: the reservations say what may exist.
        auto held = names.reservedNames(name);
        intent.macvtaps.names.assign(held.begin(), held.end());
        intent.macvtaps.group = names.groupOf(name);
    }
    macvtapReclaim(sock, intent.macvtaps, names, name);
    removeRuntimeFiles(paths, name);
    removeQuietly(statePath(paths, name));
    removeTempFiles(paths, name, true);
    removeQuietly(intentPath(paths, name));
}

// Deal with the intent record of domain `name` left by a start whose owner
// died (under the domain lock, so no start of it is in progress): a start
// that got as far as a ready supervisor is finished (the supervisor brought
// the macvtaps up before it reported ready: only the record goes), any
// other is undone.
void recoverStartUnderLock(const Paths &paths, const std::string &name)
{
    auto intent = readIntent(paths, name);
    if (!intent) {
        // Killed while writing its first record, or a stale lock file.
        removeTempFiles(paths, name, false);
        return;
    }
    if (intent->owner.alive())
        return;
    if (intent->supervisor && intent->supervisor->alive()) {
        auto st = readStateFile(paths, name);
        if (st && st->supervisorPid == intent->supervisor->pid) {
            removeQuietly(intentPath(paths, name));
            return;
        }
    }
    undoStart(paths, *intent);
}

// Recover `name` if nobody holds its lock; a stale lock file goes too.
void recoverStartIfIdle(const Paths &paths, const std::string &name)
{
    DomainLock lock(paths, name, DomainLock::NoWait{});
    if (lock.held())
        recoverStartUnderLock(paths, name);
}

// The intent record of the start in progress.  Written before anything is
// created, rewritten whenever the start learns what it may leave behind;
// destroyed without finish() (the start failed) it undoes the start.
class IntentGuard {
public:
    IntentGuard(const Paths &paths, const std::string &name) : paths_(paths)
    {
        intent_.name = name;
        intent_.owner = ProcessId::self();
        writeIntent(paths_, intent_);
    }
    ~IntentGuard()
    {
        if (done_)
            return;
        try {
            undoStart(paths_, intent_);
        } catch (const Error &e) {
            // The record stays; the next command that looks retries.
            std::fprintf(stderr, "%s\n",
                         strprintf(_("warning: %s"), e.what()).c_str());
        }
    }
    IntentGuard(const IntentGuard &) = delete;
    IntentGuard &operator=(const IntentGuard &) = delete;

    void setPlan(const MacvtapPlan &plan)
    {
        intent_.macvtaps = plan;
        writeIntent(paths_, intent_);
    }
    void setSupervisor(pid_t pid)
    {
        intent_.supervisor = ProcessId::of(pid);
        if (!intent_.supervisor)
            raiseInternal(_("the supervisor exited at once"));
        writeIntent(paths_, intent_);
    }
    void finish()
    {
        faultPoint("intent-remove");
        removeQuietly(intentPath(paths_, intent_.name));
        done_ = true;
    }

private:
    const Paths &paths_;
    StartIntent intent_;
    bool done_ = false;
};

// QEMU inherits our RLIMIT_NOFILE through the supervisor; many NICs with
// many queues need more than the usual soft limit of 1024.  The headroom
// covers QEMU's own fds (eventfds per queue, the monitor, the log).
void raiseFdLimitFor(const std::vector<NetFdPlan> &plans)
{
    rlim_t want = static_cast<rlim_t>(planFdCeiling(plans)) * 3 + 256;
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        throw Error(VIR_ERR_CONFIG_UNSUPPORTED,
                    strprintf(_("the domain needs %llu file descriptors but the hard limit is "
                                "%llu"),
                              static_cast<unsigned long long>(want),
                              static_cast<unsigned long long>(rl.rlim_max)),
                    VIR_FROM_QEMU);
    rl.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0)
        raiseSystem(errno, _("cannot raise the open file limit"));
}

class PhaseTimer {
public:
    explicit PhaseTimer(const PhaseReporter &r) : report_(r), start_(Clock::now()) {}
    void done(const std::string &phase)
    {
        auto now = Clock::now();
        if (report_)
            report_(phase, std::chrono::duration<double>(now - start_).count());
        start_ = now;
    }

private:
    const PhaseReporter &report_;
    Clock::time_point start_;
};

std::vector<MacvtapRequest> macvtapRequests(const conf::DomainDef &def)
{
    std::vector<MacvtapRequest> reqs;
    for (const auto &net : def.nets) {
        MacvtapRequest r;
        r.ifname = net.ifname;
        r.parent = net.sourceDev;
        r.mode = net.mode;
        r.mac = net.mac;
        r.mtu = net.mtu;
        r.queues = std::max(1u, net.queues);
        r.vnetHdr = net.model == "virtio";
        reqs.push_back(std::move(r));
    }
    return reqs;
}

// QMP commands the supervisor runs before reporting ready: links that start
// down, a check that every NIC is realized, then let the guest run.
std::vector<JsonValue> startupCommands(const conf::DomainDef &def)
{
    std::vector<JsonValue> cmds;
    for (const auto &alias : linkDownAliases(def))
        cmds.push_back(JsonValue::object(
            {{"execute", "set_link"},
             {"arguments", JsonValue::object({{"name", alias}, {"up", false}})}}));
    for (const auto &net : def.nets)
        cmds.push_back(JsonValue::object(
            {{"execute", "qom-get"},
             {"arguments", JsonValue::object({{"path", "/machine/peripheral/" + net.info.alias},
                                              {"property", "realized"}})}}));
    cmds.push_back(JsonValue::object({{"execute", "cont"}}));
    return cmds;
}

} // namespace

int startDomain(const Paths &paths, conf::DomainDef &def, const StartOptions &opts)
{
    DomainLock lock(paths, def.name);
    return startDomain(paths, def, opts, lock);
}

int startDomain(const Paths &paths, conf::DomainDef &def, const StartOptions &opts,
                const DomainLock &held)
{
    (void)held;
    PhaseTimer timer(opts.phases);
    faultPoint("domain-lock");
    recoverStartUnderLock(paths, def.name);
    if (auto st = readStateFile(paths, def.name)) {
        if (supervisorAlive(*st, def.name))
            throw Error(VIR_ERR_OPERATION_INVALID, _("domain is already running"), VIR_FROM_QEMU);
        cleanupStale(paths, def.name, *st);
    }
    // Names and devices that dead starts of other domains hold.
    recoverAbandonedStarts(paths, def.name);
    // From here on a crash leaves a record of what to undo.
    IntentGuard intent(paths, def.name);

    QemuCapsCache capsCache(paths);
    QemuCaps caps = capsCache.get(findEmulator(def.emulator, def.os.arch));
    checkDomainForQemu(def, caps);
    prepareDomainForQemu(def, caps);
    bool vhost = hostVhostNetAvailable();
    auto plans = planNetFds(def, caps, vhost);
    raiseFdLimitFor(plans);
    timer.done("prepare (capabilities, addresses)");

    // Host NICs: one transaction; destroyed without commit() it rolls back.
    NetlinkSocket sock;
    NetdevNameState names(netdevStateDir(paths));
    MacvtapOptions mopts;
    mopts.owner = def.name;
    mopts.state = &names;
    mopts.fault = [](MacvtapStep step, size_t) { faultPoint(macvtapStepName(step)); };
    mopts.beforeCreate = [&intent](const MacvtapPlan &plan) { intent.setPlan(plan); };
    MacvtapTransaction tx(sock, mopts);
    auto &results = tx.prepare(macvtapRequests(def));
    std::vector<MacvtapRecord> records;
    for (size_t i = 0; i < results.size(); ++i) {
        def.nets[i].ifname = results[i].record.ifname;
        def.nets[i].ifindex = results[i].record.ifindex;
        records.push_back(results[i].record);
    }
    // vhost-net fds, one per queue, when the plan uses them.
    std::vector<UniqueFd> vhostFds;
    std::vector<std::pair<int, int>> fdMap;
    for (size_t i = 0; i < plans.size(); ++i) {
        for (size_t q = 0; q < plans[i].tapFds.size(); ++q)
            fdMap.emplace_back(plans[i].tapFds[q], results[i].tapFds.at(q).get());
        for (int number : plans[i].vhostFds) {
            faultPoint("vhost-open");
            UniqueFd fd(::open("/dev/vhost-net", O_RDWR | O_CLOEXEC));
            if (!fd)
                raiseSystem(errno, _("Unable to open /dev/vhost-net"));
            fdMap.emplace_back(number, fd.get());
            vhostFds.push_back(std::move(fd));
        }
    }
    timer.done("host NIC setup");

    CommandOptions copts;
    copts.qmpSocketPath = qmpSocketPath(paths, def.name);
    copts.startPaused = true;
    copts.kvmUsable = hostKvmUsable();
    std::vector<std::string> warnings;
    auto argv = buildCommandLine(def, caps, plans, copts, &warnings);

    def.id = allocateDomainId(paths);
    // The live XML exists before QEMU does, so whoever tears down finds it.
    struct LiveXmlGuard {
        std::string path;
        bool armed = true;
        ~LiveXmlGuard() { if (armed) ::unlink(path.c_str()); }
    } liveGuard{paths.domainRunPath(def.name)};
    faultPoint("live-xml-write");
    writeFileAtomic(liveGuard.path, conf::formatDomainXML(def, conf::FORMAT_STATUS), 0600);

    SupervisorConfig sc;
    sc.name = def.name;
    sc.argv = argv;
    for (const auto &[number, fd] : fdMap) {
        (void)fd;
        sc.passFds.push_back(number);
    }
    sc.monitorSocket = copts.qmpSocketPath;
    sc.controlSocket = controlPath(paths, def.name);
    sc.stateFile = statePath(paths, def.name);
    sc.qemuLog = logPath(paths, def.name);
    sc.startupCommands = startupCommands(def);
    sc.holdPassFds = true;
    sc.state = JsonValue::object({{"root", paths.root},
                                  {"id", static_cast<int64_t>(def.id)},
                                  {"macvtaps", recordsToJson(records)}});
    Command supervisor(opts.supervisorProgram, {"supervise", def.name});
    // The supervisor's own messages go to the domain log, next to QEMU's.
    supervisor.setLogFile(sc.qemuLog);
    if (!paths.root.empty())
        supervisor.addEnv("VIRT_DIRECT_ROOT=" + paths.root);
    auto launched = launchSupervisor(std::move(supervisor), sc, fdMap, opts.timeout, [&](pid_t pid) {
        faultPoint("supervisor-spawn");
        intent.setSupervisor(pid);
    });
    // Should a later step fail, destroying `launched` stops the supervisor;
    // give it time to stop QEMU (SIGTERM, then SIGKILL after its shutdown
    // timeout) and tear down before it is killed itself.
    launched.supervisor.setTerminateGrace(sc.shutdownTimeout + std::chrono::seconds(5));
    timer.done("QEMU to QMP ready, macvtaps up");

    // From here the supervisor owns the devices and their teardown; it
    // brought the macvtaps up before it reported ready.
    tx.commit();
    liveGuard.armed = false;
    faultPoint("started");
    intent.finish();
    launched.supervisor.detach();
    for (const auto &w : warnings)
        std::fprintf(stderr, "%s\n", strprintf(_("warning: %s"), w.c_str()).c_str());
    return def.id;
}

// The running domain as its files describe it, or nullopt when it is not
// running (no stale cleanup: callable under the domain lock).
static std::optional<RunningDomain> readRunningDomain(const Paths &paths, const std::string &name,
                                                      const StateFile &st)
{
    if (!supervisorAlive(st, name))
        return std::nullopt;
    RunningDomain rd;
    rd.name = name;
    rd.supervisorPid = st.supervisorPid;
    rd.qemuPid = st.qemuPid;
    rd.controlSocket = controlPath(paths, name);
    rd.macvtaps = st.macvtaps;
    try {
        rd.live = conf::parseDomainXML(readFile(paths.domainRunPath(name)), conf::PARSE_LIVE);
        rd.id = rd.live->id;
    } catch (const Error &) {
        // Being torn down right now.
        return std::nullopt;
    }
    return rd;
}

std::optional<RunningDomain> findRunningDomain(const Paths &paths, const std::string &name)
{
    // Names become paths under runDir: "../x" must not reach outside it.
    if (!conf::isValidDomainName(name))
        return std::nullopt;
    if (::access(intentPath(paths, name).c_str(), F_OK) == 0)
        recoverStartIfIdle(paths, name);
    auto st = readStateFile(paths, name);
    if (!st)
        return std::nullopt;
    if (!supervisorAlive(*st, name)) {
        DomainLock lock(paths, name);
        // Re-check under the lock: another command may have cleaned up.
        return findRunningDomain(paths, name, lock);
    }
    return readRunningDomain(paths, name, *st);
}

std::optional<RunningDomain> findRunningDomain(const Paths &paths, const std::string &name,
                                               const DomainLock &held)
{
    (void)held;
    if (!conf::isValidDomainName(name))
        return std::nullopt;
    recoverStartUnderLock(paths, name);
    auto st = readStateFile(paths, name);
    if (!st)
        return std::nullopt;
    if (!supervisorAlive(*st, name)) {
        cleanupStale(paths, name, *st);
        return std::nullopt;
    }
    return readRunningDomain(paths, name, *st);
}

void recoverAbandonedStarts(const Paths &paths, const std::string &except)
{
    std::set<std::string> names;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(paths.runDir, ec)) {
        std::string f = e.path().filename().string();
        for (const std::string suffix : {".intent.json", ".lock"}) {
            if (f.size() > suffix.size() &&
                f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0) {
                std::string name = f.substr(0, f.size() - suffix.size());
                if (conf::isValidDomainName(name))
                    names.insert(name);
            }
        }
    }
    names.erase(except);
    for (const auto &name : names)
        recoverStartIfIdle(paths, name);
    macvtapRemoveStaleNodeDirs();
}

std::vector<RunningDomain> runningDomains(const Paths &paths)
{
    recoverAbandonedStarts(paths);
    std::vector<RunningDomain> domains;
    std::error_code ec;
    const std::string suffix = ".state.json";
    for (const auto &e : std::filesystem::directory_iterator(paths.runDir, ec)) {
        std::string f = e.path().filename().string();
        if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0) {
            std::string name = f.substr(0, f.size() - suffix.size());
            if (auto rd = findRunningDomain(paths, name))
                domains.push_back(std::move(*rd));
        }
    }
    std::sort(domains.begin(), domains.end(),
              [](const auto &a, const auto &b) { return a.name < b.name; });
    return domains;
}

static RunningDomain requireRunning(const Paths &paths, const std::string &name)
{
    auto rd = findRunningDomain(paths, name);
    if (!rd) {
        if (!conf::DomainStore(paths).isDefined(name))
            conf::raiseNoDomain(name);
        throw Error(VIR_ERR_OPERATION_INVALID, _("domain is not running"), VIR_FROM_QEMU);
    }
    return std::move(*rd);
}

static Monitor connectControl(const RunningDomain &rd)
{
    return Monitor::connect(rd.controlSocket, milliseconds(5000));
}

void destroyDomain(const Paths &paths, const std::string &name, milliseconds timeout)
{
    RunningDomain rd = requireRunning(paths, name);
    try {
        Monitor mon = connectControl(rd);
        mon.execute("vd-destroy");
    } catch (const Error &) {
        // The supervisor may be exiting already; the wait below decides.
    }
    std::optional<ProcessId> supervisor = ProcessId::of(rd.supervisorPid);
    if (!waitGone(rd.supervisorPid, name, isSupervisorOf, timeout)) {
        // A wedged supervisor: take over (kill it, then clean up ourselves).
        ::kill(rd.supervisorPid, SIGKILL);
        waitGone(rd.supervisorPid, name, isSupervisorOf, milliseconds(5000));
    }
    // Its command line is gone a moment before the process is: "destroyed"
    // means it has exited.
    if (supervisor)
        waitProcessGone(*supervisor, milliseconds(5000));
    // Covers a supervisor that died without finishing its teardown.
    findRunningDomain(paths, name);
}

void shutdownDomain(const Paths &paths, const std::string &name)
{
    RunningDomain rd = requireRunning(paths, name);
    Monitor mon = connectControl(rd);
    mon.systemPowerdown();
}

void setInterfaceLink(const Paths &paths, const std::string &name, const std::string &iface,
                      bool up)
{
    requireRunning(paths, name);
    // The live XML is read, changed and rewritten: two commands doing that
    // at once (domif-setlink on two NICs) would lose one change.  Not taken
    // earlier: findRunningDomain takes it itself for a stale domain.
    DomainLock lock(paths, name);
    auto st = readStateFile(paths, name);
    auto found = st ? readRunningDomain(paths, name, *st) : std::nullopt;
    if (!found)
        throw Error(VIR_ERR_OPERATION_INVALID, _("domain is not running"), VIR_FROM_QEMU);
    RunningDomain &rd = *found;
    auto mac = MacAddr::parse(iface);
    conf::NetDef *net = nullptr;
    for (auto &n : rd.live->nets)
        if (n.ifname == iface || (mac && n.mac == *mac))
            net = &n;
    if (!net)
        throw Error(VIR_ERR_INVALID_ARG,
                    strprintf(_("interface (dev: %s) not found"), iface.c_str()), VIR_FROM_QEMU);
    Monitor mon = connectControl(rd);
    mon.setLink(net->info.alias, up);
    net->linkState = up ? conf::NetDef::LinkState::Up : conf::NetDef::LinkState::Down;
    writeFileAtomic(paths.domainRunPath(name), conf::formatDomainXML(*rd.live, conf::FORMAT_STATUS),
                    0600);
}

void teardownDomainHost(const Paths &paths, const std::string &name,
                        const std::vector<MacvtapRecord> &records, std::vector<UniqueFd> heldFds)
{
    try {
        NetlinkSocket sock;
        NetdevNameState names(netdevStateDir(paths));
        macvtapTeardown(sock, records, std::move(heldFds), &names, name);
    } catch (const Error &e) {
        std::fprintf(stderr, "%s\n", e.what());
    }
    removeRuntimeFiles(paths, name);
}

int supervisorProcessMain()
{
    return supervisorMain([](Supervisor &sup) {
        sup.setQemuUp([](const SupervisorConfig &cfg) {
            faultPoint("link-up");
            NetlinkSocket sock;
            macvtapSetUp(sock, recordsFromJson(cfg.state.find("macvtaps")));
        });
        sup.setTeardown([&sup](const SupervisorConfig &cfg, const ExitStatus &) {
            const JsonValue &state = cfg.state;
            std::string root = state.has("root") ? state.get("root").asString() : "";
            teardownDomainHost(Paths::forRoot(root), cfg.name,
                               recordsFromJson(state.find("macvtaps")), sup.takeHeldFds());
        });
    });
}

} // namespace vd::qemu
