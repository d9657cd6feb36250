// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_driver.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "conf/domain_store.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "util/virxml.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain_lock.h"
#include "qemu/qemu_host.h"
#include "qemu/qemu_process.h"
#include "qemu/qemu_validate.h"
#include "util/virerror.h"
#include "util/virprocess.h"
#include "util/virfile.h"

namespace vd::qemu {
namespace {

using conf::DomainDef;
using conf::DomainStore;

// libvirt's virCheckFlags.
void checkFlags(unsigned flags, unsigned supported, const char *function)
{
    if (flags & ~supported)
        throw Error(VIR_ERR_INVALID_ARG,
                    strprintf(_("unsupported flags (0x%x) in function %s"), flags & ~supported,
                              function),
                    VIR_FROM_QEMU);
}

std::string selfExecutable()
{
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        raiseSystem(errno, _("cannot find the virt-direct executable"));
    return std::string(buf, static_cast<size_t>(n));
}

// Dying in the middle of a start would leave macvtaps and reserved names
// without an owner, or a running guest whose macvtaps were never brought
// up.  So SIGINT, SIGTERM and SIGHUP are held back (in the calling thread)
// while starting: the wait for QEMU notices them pending and cancels the
// start, which rolls back; afterwards they are delivered as usual.
class HoldTerminationSignals {
public:
    HoldTerminationSignals()
    {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : {SIGINT, SIGTERM, SIGHUP})
            sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~HoldTerminationSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    HoldTerminationSignals(const HoldTerminationSignals &) = delete;
    HoldTerminationSignals &operator=(const HoldTerminationSignals &) = delete;

private:
    sigset_t old_;
};

// QEMU's user + system CPU time from /proc/PID/stat (fields 14 and 15).
std::optional<unsigned long long> processCpuTimeNs(pid_t pid)
{
    // Fields 14 and 15 are elements 11 and 12 (the first is field 3).
    auto fields = procStatFields(pid);
    if (!fields || fields->size() < 13)
        return std::nullopt;
    unsigned long long utime = std::strtoull((*fields)[11].c_str(), nullptr, 10);
    unsigned long long stime = std::strtoull((*fields)[12].c_str(), nullptr, 10);
    long ticks = ::sysconf(_SC_CLK_TCK);
    if (ticks <= 0)
        return std::nullopt;
    return (utime + stime) * (1000000000ull / static_cast<unsigned long long>(ticks));
}

DomainInfo infoFromDef(const DomainDef &def)
{
    DomainInfo info;
    info.name = def.name;
    info.uuid = def.uuid;
    info.maxMemoryKiB = def.memoryKiB;
    info.memoryKiB = def.currentMemoryKiB ? def.currentMemoryKiB : def.memoryKiB;
    info.vcpus = def.vcpus;
    return info;
}

DomainInfo infoFromRunning(const RunningDomain &rd, bool persistent)
{
    DomainInfo info = infoFromDef(*rd.live);
    info.id = rd.id;
    // The supervisor sends "cont" before start returns; libvirt's reason
    // for a domain started this way is "booted".
    info.state = VIR_DOMAIN_RUNNING;
    info.reason = VIR_DOMAIN_RUNNING_BOOTED;
    info.cpuTimeNs = processCpuTimeNs(rd.qemuPid);
    info.persistent = persistent;
    return info;
}

// `def` as startDomain left it (the live definition, with its id).
DomainInfo infoJustStarted(const DomainDef &def, bool persistent)
{
    DomainInfo info = infoFromDef(def);
    info.id = def.id;
    info.state = VIR_DOMAIN_RUNNING;
    info.reason = VIR_DOMAIN_RUNNING_BOOTED;
    info.persistent = persistent;
    return info;
}

DomainInfo infoFromConfig(const DomainDef &def)
{
    DomainInfo info = infoFromDef(def);
    info.persistent = true;
    return info;
}

InterfaceInfo interfaceInfo(const conf::NetDef &net)
{
    InterfaceInfo i;
    i.target = net.ifname;
    i.type = "direct";
    i.source = net.sourceDev;
    i.model = net.model;
    i.mac = net.mac.str();
    i.linkUp = net.linkState != conf::NetDef::LinkState::Down;
    return i;
}

const conf::NetDef *findNet(const DomainDef &def, const std::string &iface)
{
    auto mac = MacAddr::parse(iface);
    for (const auto &net : def.nets)
        if (net.ifname == iface || (mac && net.mac == *mac))
            return &net;
    return nullptr;
}

[[noreturn]] void raiseUuidInUse(const std::string &otherName, const Uuid &uuid)
{
    throw Error(VIR_ERR_OPERATION_FAILED,
                strprintf(_("domain '%s' is already defined with uuid %s"), otherName.c_str(),
                          conf::uuidToString(uuid).c_str()),
                VIR_FROM_QEMU);
}

// Held by define while it checks that a UUID is free and stores it, so two
// defines of different names with one UUID cannot both succeed.  Taken
// before any domain lock (never while holding one): no lock-order cycle.
// No domain can be called this (names cannot start with '.').
constexpr const char *identityLockName = ".identity";

// libvirt's rule (virDomainObjListAdd): a UUID belongs to one name.  A
// domain of another name with this UUID, stored or running, refuses it.
// Checked before taking `def`'s lock: holding one domain's lock while
// reading another's state (stale cleanup takes that one's lock) could
// deadlock with the mirror-image call.
void checkUuidFree(const Paths &paths, const DomainDef &def)
{
    if (def.uuidGenerated)
        return;
    std::string other = DomainStore(paths).nameForUuid(def.uuid, def.name);
    if (!other.empty())
        raiseUuidInUse(other, def.uuid);
    for (const auto &rd : runningDomains(paths))
        if (rd.name != def.name && rd.live->uuid == def.uuid)
            raiseUuidInUse(rd.name, def.uuid);
}

// The other half of the rule: a name keeps its UUID.  A definition without
// <uuid> takes the existing one; a different one is refused with libvirt's
// "domain 'X' already exists with uuid U".  Under the domain's lock.
void adoptOrCheckIdentity(const Paths &paths, DomainDef &def, const DomainLock &held)
{
    std::optional<Uuid> existing;
    DomainStore store(paths);
    if (store.isDefined(def.name))
        existing = store.loadConfig(def.name)->uuid;
    else if (auto rd = findRunningDomain(paths, def.name, held))
        existing = rd->live->uuid;
    if (!existing)
        return;
    if (def.uuidGenerated)
        def.uuid = *existing;
    else if (def.uuid != *existing)
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("domain '%s' already exists with uuid %s"), def.name.c_str(),
                              conf::uuidToString(*existing).c_str()),
                    VIR_FROM_QEMU);
}

std::unique_ptr<DomainDef> parseUserXML(const std::string &xml)
{
    auto def = parseDomainXMLForQemu(xml, conf::PARSE_INACTIVE, true);
    conf::checkDomainName(def->name);
    return def;
}

StartOptions startOptions(const DriverOptions &options, const StartParams &params)
{
    StartOptions opts;
    opts.supervisorProgram =
        options.supervisorProgram.empty() ? selfExecutable() : options.supervisorProgram;
    opts.phases = params.phases;
    return opts;
}

// The running domain of that name, or the stored definition, or
// VIR_ERR_NO_DOMAIN.
std::unique_ptr<DomainDef> currentDef(const Paths &paths, const std::string &name)
{
    if (auto rd = findRunningDomain(paths, name))
        return std::move(rd->live);
    return DomainStore(paths).loadConfig(name);
}

} // namespace

Driver::Driver(Paths paths, DriverOptions options)
    : paths_(std::move(paths)), options_(std::move(options))
{
}

void Driver::validateXML(const std::string &xml) const
{
    parseDomainXMLForQemu(xml, conf::PARSE_INACTIVE, true);
}

DomainInfo Driver::defineXML(const std::string &xml, unsigned flags)
{
    checkFlags(flags, VIR_DOMAIN_DEFINE_VALIDATE, __func__);
    auto def = parseUserXML(xml);
    DomainLock identity(paths_, identityLockName);
    checkUuidFree(paths_, *def);

    DomainLock lock(paths_, def->name);
    adoptOrCheckIdentity(paths_, *def, lock);
    DomainStore store(paths_);
    conf::assignMacAddresses(*def, store.macsInUse(def->name));
    // Like libvirt, PCI addresses (and any pci-bridges they need) are fixed
    // at define time and persisted, so a device keeps its slot when the
    // domain later gains devices.
    QemuCapsCache caps(paths_);
    prepareDomainForQemu(*def, caps.get(findEmulator(def->emulator, def->os.arch)));
    store.saveConfig(*def);

    if (auto rd = findRunningDomain(paths_, def->name, lock))
        return infoFromRunning(*rd, true);
    return infoFromConfig(*def);
}

void Driver::undefine(const std::string &name, unsigned flags)
{
    checkFlags(flags, 0, __func__);
    if (!conf::isValidDomainName(name))
        conf::raiseNoDomain(name);
    DomainLock lock(paths_, name);
    DomainStore store(paths_);
    if (!store.isDefined(name)) {
        if (findRunningDomain(paths_, name, lock))
            throw Error(VIR_ERR_OPERATION_INVALID, _("cannot undefine transient domain"),
                        VIR_FROM_QEMU);
        conf::raiseNoDomain(name);
    }
    store.removeConfig(name);
}

DomainInfo Driver::lookupByName(const std::string &name) const
{
    DomainStore store(paths_);
    if (auto rd = findRunningDomain(paths_, name))
        return infoFromRunning(*rd, store.isDefined(name));
    return infoFromConfig(*store.loadConfig(name));
}

DomainInfo Driver::lookupByUUID(const Uuid &uuid) const
{
    for (const auto &info : listDomains(0))
        if (info.uuid == uuid)
            return info;
    throw Error(VIR_ERR_NO_DOMAIN,
                strprintf(_("no domain with matching uuid '%s'"),
                          conf::uuidToString(uuid).c_str()),
                VIR_FROM_QEMU);
}

DomainInfo Driver::lookupByUUIDString(const std::string &uuid) const
{
    auto parsed = conf::uuidFromString(uuid);
    if (!parsed)
        throw Error(VIR_ERR_INVALID_ARG, strprintf(_("Invalid UUID '%s'"), uuid.c_str()),
                    VIR_FROM_QEMU);
    return lookupByUUID(*parsed);
}

DomainInfo Driver::lookupByID(int id) const
{
    for (const auto &rd : runningDomains(paths_))
        if (rd.id == id)
            return infoFromRunning(rd, DomainStore(paths_).isDefined(rd.name));
    throw Error(VIR_ERR_NO_DOMAIN, strprintf(_("no domain with matching id %d"), id),
                VIR_FROM_QEMU);
}

std::vector<DomainInfo> Driver::listDomains(unsigned flags) const
{
    const unsigned activity = VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE;
    const unsigned persistence =
        VIR_CONNECT_LIST_DOMAINS_PERSISTENT | VIR_CONNECT_LIST_DOMAINS_TRANSIENT;
    checkFlags(flags, activity | persistence, __func__);
    auto wants = [flags](unsigned group, unsigned bit) {
        return (flags & group) == 0 || (flags & bit) != 0;
    };
    DomainStore store(paths_);
    std::vector<DomainInfo> out;
    std::vector<std::string> runningNames;
    for (const auto &rd : runningDomains(paths_)) {
        runningNames.push_back(rd.name);
        bool persistent = store.isDefined(rd.name);
        if (wants(activity, VIR_CONNECT_LIST_DOMAINS_ACTIVE) &&
            wants(persistence, persistent ? VIR_CONNECT_LIST_DOMAINS_PERSISTENT
                                          : VIR_CONNECT_LIST_DOMAINS_TRANSIENT))
            out.push_back(infoFromRunning(rd, persistent));
    }
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    if (!wants(activity, VIR_CONNECT_LIST_DOMAINS_INACTIVE) ||
        !wants(persistence, VIR_CONNECT_LIST_DOMAINS_PERSISTENT))
        return out;
    for (const auto &name : store.definedNames()) {
        if (std::find(runningNames.begin(), runningNames.end(), name) != runningNames.end())
            continue;
        try {
            out.push_back(infoFromConfig(*store.loadConfig(name)));
        } catch (const Error &) {
            // An unreadable definition is still listed, by its name.
            DomainInfo info;
            info.name = name;
            info.persistent = true;
            out.push_back(info);
        }
    }
    return out;
}

std::string Driver::getXMLDesc(const std::string &name, unsigned flags) const
{
    checkFlags(flags, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE, __func__);
    bool inactive = flags & VIR_DOMAIN_XML_INACTIVE;
    DomainStore store(paths_);
    if (!inactive || !store.isDefined(name)) {
        if (auto rd = findRunningDomain(paths_, name))
            return conf::formatDomainXML(*rd->live, inactive ? unsigned(conf::FORMAT_INACTIVE) : 0u);
    }
    return conf::formatDomainXML(*store.loadConfig(name), conf::FORMAT_INACTIVE);
}

std::vector<InterfaceInfo> Driver::interfaces(const std::string &name) const
{
    std::vector<InterfaceInfo> out;
    auto def = currentDef(paths_, name); // outlives the loop
    for (const auto &net : def->nets)
        out.push_back(interfaceInfo(net));
    return out;
}

std::optional<InterfaceInfo> Driver::findInterface(const std::string &name,
                                                   const std::string &iface) const
{
    auto def = currentDef(paths_, name);
    if (const conf::NetDef *net = findNet(*def, iface))
        return interfaceInfo(*net);
    return std::nullopt;
}

DomainInfo Driver::createXML(const std::string &xml, const StartParams &params)
{
    checkFlags(params.flags, 0, __func__);
    auto def = parseUserXML(xml);
    checkUuidFree(paths_, *def);

    // Held from before the lock is taken, so that a signal cancelling the
    // start is delivered only after the lock (and its file) is gone.
    HoldTerminationSignals hold;
    DomainLock lock(paths_, def->name);
    adoptOrCheckIdentity(paths_, *def, lock);
    conf::assignMacAddresses(*def, DomainStore(paths_).macsInUse(def->name));
    startDomain(paths_, *def, startOptions(options_, params), lock);
    return infoJustStarted(*def, DomainStore(paths_).isDefined(def->name));
}

DomainInfo Driver::start(const std::string &name, const StartParams &params)
{
    checkFlags(params.flags, 0, __func__);
    if (!conf::isValidDomainName(name))
        conf::raiseNoDomain(name);
    HoldTerminationSignals hold; // first: see createXML
    DomainLock lock(paths_, name);
    if (findRunningDomain(paths_, name, lock))
        throw Error(VIR_ERR_OPERATION_INVALID, _("domain is already running"), VIR_FROM_QEMU);
    // Loaded under the lock: an undefine or redefine cannot slip in between.
    auto def = DomainStore(paths_).loadConfig(name);
    conf::validateDomainDef(*def);
    postParseDomainForQemu(*def);
    validateDomainForQemu(*def);
    startDomain(paths_, *def, startOptions(options_, params), lock);
    return infoJustStarted(*def, true);
}

void Driver::destroy(const std::string &name, unsigned flags)
{
    checkFlags(flags, 0, __func__);
    destroyDomain(paths_, name);
}

void Driver::shutdown(const std::string &name, unsigned flags)
{
    checkFlags(flags, 0, __func__);
    shutdownDomain(paths_, name);
}

void Driver::setLink(const std::string &name, const std::string &iface, bool up)
{
    setInterfaceLink(paths_, name, iface, up);
}

namespace {

// One counter from /sys/class/net/DEV/statistics, -1 when unreadable.
long long netdevCounter(const std::string &dev, const char *counter)
{
    std::ifstream in("/sys/class/net/" + dev + "/statistics/" + counter);
    long long v = -1;
    if (!(in >> v))
        return -1;
    return v;
}

} // namespace

InterfaceStats Driver::interfaceStats(const std::string &name, const std::string &iface) const
{
    auto rd = findRunningDomain(paths_, name);
    if (!rd) {
        DomainStore(paths_).loadConfig(name); // VIR_ERR_NO_DOMAIN when unknown
        throw Error(VIR_ERR_OPERATION_INVALID, _("domain is not running"), VIR_FROM_QEMU);
    }
    const conf::NetDef *net = findNet(*rd->live, iface);
    if (!net || net->ifname.empty())
        throw Error(VIR_ERR_INVALID_ARG,
                    strprintf(_("invalid path, '%s' is not a known interface"), iface.c_str()),
                    VIR_FROM_QEMU);
    if (netdevCounter(net->ifname, "rx_bytes") < 0)
        throw SystemError(errno ? errno : ENODEV,
                          strprintf(_("cannot read statistics of interface '%s'"),
                                    net->ifname.c_str()),
                          VIR_FROM_QEMU);
    InterfaceStats st;
    st.rxBytes = netdevCounter(net->ifname, "rx_bytes");
    st.rxPackets = netdevCounter(net->ifname, "rx_packets");
    st.rxErrs = netdevCounter(net->ifname, "rx_errors");
    st.rxDrop = netdevCounter(net->ifname, "rx_dropped");
    st.txBytes = netdevCounter(net->ifname, "tx_bytes");
    st.txPackets = netdevCounter(net->ifname, "tx_packets");
    st.txErrs = netdevCounter(net->ifname, "tx_errors");
    st.txDrop = netdevCounter(net->ifname, "tx_dropped");
    return st;
}

void Driver::updateDevice(const std::string &name, const std::string &deviceXML,
                          unsigned flags)
{
    checkFlags(flags, VIR_DOMAIN_AFFECT_LIVE, __func__);
    auto doc = xml::parseDocument(deviceXML, "(device_definition)");
    const xmlNode *root = xmlDocGetRootElement(doc.get());
    if (!root || xml::name(root) != "interface")
        throw Error(VIR_ERR_OPERATION_UNSUPPORTED,
                    strprintf(_("live update of device '%s' is not supported"),
                              root ? std::string(xml::name(root)).c_str() : ""),
                    VIR_FROM_QEMU);
    std::string iface;
    bool up = true;
    for (const xmlNode *child : xml::children(root)) {
        if (xml::name(child) == "mac")
            iface = xml::requiredProp(child, "address");
        else if (xml::name(child) == "target" && iface.empty())
            iface = xml::prop(child, "dev").value_or("");
        else if (xml::name(child) == "link")
            up = xml::prop(child, "state").value_or("up") != "down";
    }
    if (iface.empty() || !findInterface(name, iface))
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("no device matching MAC address %s found"), iface.c_str()),
                    VIR_FROM_QEMU);
    setLink(name, iface, up);
}

bool Driver::getLink(const std::string &name, const std::string &iface) const
{
    if (auto found = findInterface(name, iface))
        return found->linkUp;
    throw Error(VIR_ERR_INVALID_ARG, strprintf(_("interface (dev: %s) not found"), iface.c_str()),
                VIR_FROM_QEMU);
}

std::string Driver::toNative(const std::string &format, const std::string &xml) const
{
    checkNativeFormat(format);
    // Like libvirt, a NIC without <mac> gets a generated one, so the
    // printed command line is complete.
    auto def = parseDomainXMLForQemu(xml, conf::PARSE_INACTIVE, false);
    conf::assignMacAddresses(*def, {});
    QemuCapsCache cache(paths_);
    QemuCaps caps = cache.get(findEmulator(def->emulator, def->os.arch));
    // What start would run on this host: vhost-net and KVM as found here.
    return domainDefToNative(*def, paths_, caps, hostVhostNetAvailable(), hostKvmUsable());
}

int superviseMain()
{
    return supervisorProcessMain();
}

} // namespace vd::qemu
