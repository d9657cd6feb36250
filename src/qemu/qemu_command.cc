#include <config.h>

#include "qemu/qemu_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "qemu/qemu_alias.h"
#include "qemu/qemu_domain_address.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virjson.h"

namespace vd::qemu {

using conf::ChrDef;
using conf::DiskDef;
using conf::DomainDef;
using conf::NetDef;

namespace {

// NIC models: the name in the XML, QEMU's -device type and its legacy
// `-net nic,model=` name.
struct NicModel {
    std::string_view xml, device, legacy;
};
constexpr NicModel nicModels[] = {
    {"virtio", "virtio-net-pci", "virtio"}, {"e1000", "e1000", "e1000"},
    {"e1000e", "e1000e", ""},               {"rtl8139", "rtl8139", "rtl8139"},
    {"ne2k_pci", "ne2k_pci", "ne2k_pci"},   {"pcnet", "pcnet", "pcnet"},
    {"vmxnet3", "vmxnet3", ""},
};

// libvirt's default NIC model for x86 QEMU guests.
constexpr std::string_view defaultNicModel = "rtl8139";

std::string_view netModel(const NetDef &net)
{
    return net.model.empty() ? defaultNicModel : std::string_view(net.model);
}

const NicModel *findNicModel(std::string_view name)
{
    for (const auto &m : nicModels)
        if (m.xml == name)
            return &m;
    return nullptr;
}

bool isVirtio(const NetDef &net) { return netModel(net) == "virtio"; }

unsigned queuesOf(const NetDef &net) { return net.queues ? net.queues : 1; }

// key=value,key=value with escaped values.
class Opts {
public:
    explicit Opts(std::string_view head = {}) : s_(head) {}
    Opts &add(std::string_view key, std::string_view value)
    {
        if (!s_.empty())
            s_ += ',';
        s_ += key;
        s_ += '=';
        s_ += qemuOptEscape(value);
        return *this;
    }
    Opts &add(std::string_view key, unsigned long long value)
    {
        return add(key, std::to_string(value));
    }
    const std::string &str() const { return s_; }

private:
    std::string s_;
};

std::string hex(unsigned v) { return strprintf("0x%x", v); }

std::string joinFds(const std::vector<int> &fds)
{
    std::string s;
    for (int fd : fds) {
        if (!s.empty())
            s += ':';
        s += std::to_string(fd);
    }
    return s;
}

void requireAbsolute(const std::string &path, const char *what)
{
    // A relative name could be read by QEMU as a protocol ("nbd:...") or
    // depend on QEMU's working directory; an absolute path cannot.
    if (path.empty() || path.front() != '/')
        raiseUnsupported(strprintf(_("%s '%s' must be an absolute path"), what, path.c_str()));
}

bool validMachineName(const std::string &m)
{
    if (m.empty())
        return false;
    for (char c : m)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
            return false;
    return true;
}

// hda -> 0, hdd -> 3, vdb -> 1; -1 when the name has no index we know.
int targetIndex(const std::string &dev)
{
    if (dev.size() != 3 || !std::islower(static_cast<unsigned char>(dev[2])))
        return -1;
    return dev[2] - 'a';
}

struct BootIndices {
    std::map<const void *, unsigned> byDevice;
    unsigned of(const void *dev) const
    {
        auto it = byDevice.find(dev);
        return it == byDevice.end() ? 0 : it->second;
    }
};

// Per-device <boot order> wins; otherwise <os><boot dev=.../> orders the
// first disk, cdrom and NIC, as libvirt does.
BootIndices bootIndices(const DomainDef &def)
{
    BootIndices b;
    bool perDevice = false;
    for (const auto &d : def.disks)
        if (d.info.bootIndex) {
            perDevice = true;
            b.byDevice[&d] = *d.info.bootIndex;
        }
    for (const auto &n : def.nets)
        if (n.info.bootIndex) {
            perDevice = true;
            b.byDevice[&n] = *n.info.bootIndex;
        }
    if (perDevice)
        return b;
    unsigned next = 1;
    for (auto dev : def.os.bootDevs) {
        const void *target = nullptr;
        switch (dev) {
        case conf::BootDevice::Hd:
            for (const auto &d : def.disks)
                if (d.device == DiskDef::Device::Disk) {
                    target = &d;
                    break;
                }
            break;
        case conf::BootDevice::Cdrom:
            for (const auto &d : def.disks)
                if (d.device == DiskDef::Device::Cdrom) {
                    target = &d;
                    break;
                }
            break;
        case conf::BootDevice::Network:
            if (!def.nets.empty())
                target = &def.nets.front();
            break;
        case conf::BootDevice::Fd:
            break;
        }
        if (target && !b.byDevice.count(target))
            b.byDevice[target] = next++;
    }
    return b;
}

std::string diskTargetDesc(const DiskDef &d) { return d.targetDev.empty() ? "?" : d.targetDev; }

} // namespace

// ---------------------------------------------------------------------------

std::string qemuOptEscape(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}

std::string shellQuote(std::string_view arg)
{
    bool safe = !arg.empty();
    for (char c : arg)
        if (!std::isalnum(static_cast<unsigned char>(c)) &&
            std::string_view("_-./:=,@%+").find(c) == std::string_view::npos)
            safe = false;
    if (safe)
        return std::string(arg);
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    out += '\'';
    return out;
}

std::string formatCommandLine(const std::vector<std::string> &argv, bool multiline)
{
    std::string out;
    for (const auto &a : argv) {
        if (!out.empty())
            out += multiline && !a.empty() && a.front() == '-' ? " \\\n" : " ";
        out += shellQuote(a);
    }
    return out;
}

std::string qmpSocketPath(const vd::Paths &paths, const std::string &domainName)
{
    return paths.runDir + "/" + domainName + ".qmp";
}

bool netUsesVhost(const NetDef &net, bool vhostAvailable)
{
    switch (net.driverName) {
    case NetDef::DriverName::Qemu:
        return false;
    case NetDef::DriverName::Vhost:
        if (!isVirtio(net))
            raiseUnsupported(_("vhost-net is only supported for virtio network interfaces"));
        if (!vhostAvailable)
            raiseUnsupported(_("vhost-net was requested for an interface, but is unavailable"));
        return true;
    case NetDef::DriverName::Default:
        break;
    }
    return vhostAvailable && isVirtio(net);
}

std::vector<NetFdPlan> planNetFds(const DomainDef &def, bool vhostAvailable, int firstFd)
{
    if (firstFd < 3)
        raiseInternal(strprintf(_("first fd for QEMU must be 3 or more, not %d"), firstFd));
    std::vector<NetFdPlan> plans;
    int next = firstFd;
    for (const auto &net : def.nets) {
        NetFdPlan p;
        unsigned q = queuesOf(net);
        for (unsigned i = 0; i < q; ++i)
            p.tapFds.push_back(next++);
        if (netUsesVhost(net, vhostAvailable))
            for (unsigned i = 0; i < q; ++i)
                p.vhostFds.push_back(next++);
        plans.push_back(std::move(p));
    }
    return plans;
}

std::vector<NetFdPlan> planNetFds(const DomainDef &def, const QemuCaps &caps, bool vhostAvailable,
                                  int firstFd)
{
    return planNetFds(def, vhostAvailable && caps.has(QemuCapsFlag::VhostNet), firstFd);
}

int planFdCeiling(const std::vector<NetFdPlan> &plans)
{
    int top = 2;
    for (const auto &p : plans) {
        for (int fd : p.tapFds)
            top = std::max(top, fd);
        for (int fd : p.vhostFds)
            top = std::max(top, fd);
    }
    return top + 1;
}

std::string hubTapId(const NetDef &net) { return netdevAlias(net) + "-tap"; }
std::string hubPortId(const NetDef &net) { return netdevAlias(net) + "-port"; }

std::vector<std::string> linkDownAliases(const DomainDef &def)
{
    std::vector<std::string> out;
    for (const auto &n : def.nets)
        if (n.linkState == NetDef::LinkState::Down)
            out.push_back(n.info.alias);
    return out;
}

void checkDomainForQemu(const DomainDef &def, const QemuCaps &caps)
{
    if (!def.os.type.empty() && def.os.type != "hvm")
        raiseUnsupported(strprintf(_("OS type '%s' is not supported by QEMU"),
                                   def.os.type.c_str()));
    if (!def.os.arch.empty() && def.os.arch != caps.arch)
        raiseUnsupported(strprintf(_("emulator %s is for architecture '%s', not '%s'"),
                                   caps.binary.c_str(), caps.arch.c_str(),
                                   def.os.arch.c_str()));
    if (def.name.empty())
        raiseXmlError(_("missing domain name"));
    if (def.memoryKiB == 0)
        raiseXmlError(_("missing memory size"));
    if (def.vcpus == 0)
        raiseXmlError(_("Invalid number of vCPUs: 0"));

    std::string machine = effectiveMachine(def, caps);
    if (!validMachineName(machine))
        raiseUnsupported(strprintf(_("invalid machine type name '%s'"), machine.c_str()));
    MachineFamily family = machineFamily(machine);
    if (!caps.machines.empty() && !caps.findMachine(machine))
        raiseUnsupported(strprintf(_("Emulator '%s' does not support machine type '%s'"),
                                   caps.binary.c_str(), machine.c_str()));

    if (def.onReboot != conf::LifecycleAction::Destroy &&
        def.onReboot != conf::LifecycleAction::Restart)
        raiseUnsupported(strprintf(_("on_reboot '%s' is not supported"),
                                   std::string(conf::toString(def.onReboot)).c_str()));

    if (!def.os.kernel.empty())
        requireAbsolute(def.os.kernel, _("kernel"));
    if (!def.os.initrd.empty())
        requireAbsolute(def.os.initrd, _("initrd"));
    if (def.os.kernel.empty() && (!def.os.initrd.empty() || !def.os.cmdline.empty()))
        raiseXmlError(_("an initrd or kernel command line needs a kernel"));

    const bool legacyNet = !caps.has(QemuCapsFlag::Netdev);
    const bool legacyDevice = !caps.has(QemuCapsFlag::Device);
    for (const auto &net : def.nets) {
        std::string model(netModel(net));
        const NicModel *m = findNicModel(model);
        if (!m)
            raiseUnsupported(strprintf(_("interface model '%s' is not supported"),
                                       model.c_str()));
        if (legacyDevice ? (m->legacy.empty() || !caps.hasDevice(std::string(m->legacy)))
                         : !caps.hasDevice(std::string(m->device)))
            raiseUnsupported(strprintf(_("emulator %s does not support interface model '%s'"),
                                       caps.binary.c_str(), model.c_str()));
        if (net.queues > 1 && !isVirtio(net))
            raiseUnsupported(strprintf(
                _("multiqueue is only supported for virtio interfaces, not model '%s'"),
                model.c_str()));
        if (net.queues > 1 && legacyNet)
            raiseUnsupported(strprintf(
                _("multiqueue needs an emulator with -netdev, which %s lacks"),
                caps.binary.c_str()));
        if (net.driverName == NetDef::DriverName::Vhost && !caps.has(QemuCapsFlag::VhostNet))
            raiseUnsupported(_("vhost-net was requested for an interface, but is unavailable"));
        if (net.mac.isZero())
            raiseXmlError(strprintf(_("expected a non-zero mac address, found '%s'"),
                                    net.mac.str().c_str()));
        if (net.mac.isMulticast())
            raiseXmlError(strprintf(_("expected unicast mac address, found multicast '%s'"),
                                    net.mac.str().c_str()));
    }

    for (const auto &d : def.disks) {
        if (!d.source.empty())
            requireAbsolute(d.source, _("disk source"));
        else if (d.device != DiskDef::Device::Cdrom)
            raiseXmlError(strprintf(_("disk '%s' has no source"), diskTargetDesc(d).c_str()));
        if (d.device == DiskDef::Device::Cdrom && d.bus == DiskDef::Bus::Virtio)
            raiseUnsupported(_("cdrom device with virtio bus isn't supported"));
        int idx = targetIndex(d.targetDev);
        if (idx < 0)
            raiseXmlError(strprintf(_("unsupported disk target '%s'"), d.targetDev.c_str()));
        switch (d.bus) {
        case DiskDef::Bus::Ide:
            if (family != MachineFamily::I440fx)
                raiseUnsupported(_("IDE controllers are unsupported for this QEMU binary or "
                                   "machine type"));
            if (idx > 3)
                raiseUnsupported(strprintf(_("IDE disk '%s': only hda to hdd exist"),
                                           d.targetDev.c_str()));
            break;
        case DiskDef::Bus::Sata:
            if (family != MachineFamily::Q35)
                raiseUnsupported(_("SATA disks need a q35 machine"));
            if (idx > 5)
                raiseUnsupported(strprintf(_("SATA disk '%s': only sda to sdf exist"),
                                           d.targetDev.c_str()));
            break;
        case DiskDef::Bus::Virtio:
            break;
        }
    }
    if (def.disks.size() > 1) {
        std::set<std::pair<int, std::string>> seen;
        for (const auto &d : def.disks)
            if (!seen.insert({static_cast<int>(d.bus), d.targetDev}).second)
                raiseXmlError(strprintf(_("target '%s' duplicated for disk sources"),
                                        d.targetDev.c_str()));
    }

    auto checkChr = [&](const ChrDef &c) {
        if (c.type == ChrDef::Type::File) {
            requireAbsolute(c.path, _("serial file"));
            if (!caps.has(QemuCapsFlag::Chardev) && c.path.find(',') != std::string::npos)
                raiseUnsupported(strprintf(
                    _("serial file path '%s' contains a comma, which emulator %s cannot parse"),
                    c.path.c_str(), caps.binary.c_str()));
        }
        if (c.kind == ChrDef::Kind::Console && !c.targetType.empty() &&
            c.targetType != "serial")
            raiseUnsupported(strprintf(_("console target type '%s' is not supported"),
                                       c.targetType.c_str()));
    };
    for (const auto &s : def.serials)
        checkChr(s);
    for (const auto &c : def.consoles)
        checkChr(c);
    if (def.serials.size() > 4)
        raiseUnsupported(_("at most 4 serial ports are supported"));
}

void prepareDomainForQemu(DomainDef &def, const QemuCaps &caps)
{
    assignDeviceAliases(def);
    assignPciAddresses(def, caps);
}

namespace {

class Builder {
public:
    Builder(DomainDef &def, const QemuCaps &caps, const std::vector<NetFdPlan> &nets,
            const CommandOptions &opts, std::vector<std::string> *warnings)
        : def_(def), caps_(caps), nets_(nets), opts_(opts), warnings_(warnings),
          family_(machineFamily(effectiveMachine(def, caps)))
    {
    }

    std::vector<std::string> build()
    {
        arg(caps_.binary.empty() ? def_.emulator : caps_.binary);
        buildName();
        if (opts_.startPaused)
            arg("-S");
        buildMachine();
        buildMemoryCpu();
        arg("-uuid", conf::uuidToString(def_.uuid));
        if (has(QemuCapsFlag::NoUserConfig))
            arg("-no-user-config");
        if (has(QemuCapsFlag::NoDefaults))
            arg("-nodefaults");
        if (has(QemuCapsFlag::DisplayNone))
            arg("-display", "none");
        else
            arg("-vnc", "none");
        buildMonitor();
        if (!opts_.pidFilePath.empty())
            arg("-pidfile", opts_.pidFilePath);
        if (def_.onReboot == conf::LifecycleAction::Destroy)
            arg("-no-reboot");
        buildKernel();
        buildBridges();
        buildDisks();
        buildNets();
        buildSerials();
        return std::move(argv_);
    }

private:
    bool has(QemuCapsFlag f) const { return caps_.has(f); }
    void arg(std::string a) { argv_.push_back(std::move(a)); }
    void arg(std::string a, std::string b)
    {
        argv_.push_back(std::move(a));
        argv_.push_back(std::move(b));
    }
    void warn(std::string w)
    {
        if (warnings_)
            warnings_->push_back(std::move(w));
    }
    bool modernDevices() const { return has(QemuCapsFlag::Device); }

    void addPciAddress(Opts &o, const conf::DeviceInfo &info)
    {
        if (!info.pci)
            return;
        o.add("bus", pciBusName(family_, info.pci->bus));
        o.add("addr", info.pci->function ? hex(info.pci->slot) + "." + hex(info.pci->function)
                                         : hex(info.pci->slot));
        if (info.pci->multifunction)
            o.add("multifunction", "on");
    }

    void buildName()
    {
        if (has(QemuCapsFlag::Device))
            arg("-name", Opts().add("guest", def_.name).str());
        else
            arg("-name", def_.name); // old QEMUs take the name verbatim
    }

    void buildMachine()
    {
        std::string machine = effectiveMachine(def_, caps_);
        bool wantKvm = def_.virtType == conf::VirtType::Kvm;
        bool kvm = wantKvm && opts_.kvmUsable && has(QemuCapsFlag::Kvm);
        if (wantKvm && !kvm)
            warn(strprintf(_("KVM is not usable on this host; domain '%s' runs with TCG "
                             "emulation instead"),
                           def_.name.c_str()));
        const char *accel = kvm ? "kvm" : "tcg";
        if (has(QemuCapsFlag::Accel)) {
            arg("-machine", machine);
            arg("-accel", accel);
        } else if (has(QemuCapsFlag::Machine)) {
            arg("-machine", Opts(machine).add("accel", accel).str());
        } else {
            arg("-M", machine);
            if (kvm)
                arg("-enable-kvm");
        }
    }

    void buildMemoryCpu()
    {
        if (has(QemuCapsFlag::Machine)) {
            arg("-m", "size=" + std::to_string(def_.memoryKiB) + "k");
        } else {
            // Old QEMUs take MiB only.
            unsigned long long mib = (def_.memoryKiB + 1023) / 1024;
            if (mib * 1024 != def_.memoryKiB)
                warn(strprintf(_("memory rounded up to %llu MiB for this emulator"), mib));
            arg("-m", std::to_string(mib));
        }
        arg("-smp", std::to_string(def_.vcpus));
    }

    void buildMonitor()
    {
        const std::string &path = opts_.qmpSocketPath;
        if (path.empty())
            raiseInternal(_("no QMP socket path for the QEMU command line"));
        requireAbsolute(path, _("QMP socket"));
        // sockaddr_un::sun_path holds 108 bytes including the terminator.
        if (path.size() >= 108)
            raiseUnsupported(strprintf(
                _("monitor socket path '%s' is too long for a UNIX socket (%zu bytes, at most 107)"),
                path.c_str(), path.size()));
        if (has(QemuCapsFlag::Chardev) && has(QemuCapsFlag::Qmp)) {
            arg("-chardev", Opts("socket")
                                .add("id", "charmonitor")
                                .add("path", path)
                                .add("server", "on")
                                .add("wait", "off")
                                .str());
            arg("-mon", "chardev=charmonitor,id=monitor,mode=control");
            return;
        }
        // The compat "unix:PATH,server,nowait" syntax cannot carry a comma.
        if (path.find(',') != std::string::npos)
            raiseUnsupported(strprintf(
                _("monitor socket path '%s' contains a comma, which emulator %s cannot parse"),
                path.c_str(), caps_.binary.c_str()));
        arg(has(QemuCapsFlag::Qmp) ? "-qmp" : "-monitor", "unix:" + path + ",server,nowait");
    }

    void buildKernel()
    {
        // -kernel/-initrd/-append take their argument verbatim (no option
        // parsing), so nothing is escaped here.
        if (!def_.os.kernel.empty())
            arg("-kernel", def_.os.kernel);
        if (!def_.os.initrd.empty())
            arg("-initrd", def_.os.initrd);
        if (!def_.os.cmdline.empty())
            arg("-append", def_.os.cmdline);
        if (!modernDevices() && !def_.os.bootDevs.empty()) {
            std::string order;
            for (auto b : def_.os.bootDevs)
                order += b == conf::BootDevice::Hd      ? 'c'
                         : b == conf::BootDevice::Cdrom ? 'd'
                         : b == conf::BootDevice::Network ? 'n'
                                                          : 'a';
            arg("-boot", order);
        }
    }

    void buildBridges()
    {
        std::vector<const conf::ControllerDef *> bridges;
        for (const auto &c : def_.controllers)
            if (c.model == conf::ControllerDef::Model::PciBridge)
                bridges.push_back(&c);
        std::sort(bridges.begin(), bridges.end(),
                  [](auto *a, auto *b) { return a->index < b->index; });
        for (auto *c : bridges) {
            if (!modernDevices())
                raiseUnsupported(_("pci-bridge controllers need an emulator with -device"));
            Opts o("pci-bridge");
            o.add("chassis_nr", c->chassisNr.value_or(c->index));
            o.add("id", pciBusName(family_, c->index));
            addPciAddress(o, c->info);
            arg("-device", o.str());
        }
    }

    void buildDisks()
    {
        BootIndices boot = bootIndices(def_);
        unsigned n = 0;
        for (const auto &d : def_.disks) {
            const unsigned diskNo = n++;
            const bool cdrom = d.device == DiskDef::Device::Cdrom;
            const bool ro = d.readonly || cdrom;
            const char *format = d.format == DiskDef::Format::Qcow2 ? "qcow2" : "raw";
            const unsigned bootIndex = boot.of(&d);
            std::string drive; // what the -device refers to

            if (!modernDevices()) {
                Opts o;
                if (!d.source.empty())
                    o.add("file", d.source);
                o.add("if", d.bus == DiskDef::Bus::Virtio ? "virtio" : "ide");
                o.add("index", static_cast<unsigned>(targetIndex(d.targetDev)));
                o.add("media", cdrom ? "cdrom" : "disk");
                if (!d.source.empty())
                    o.add("format", format);
                if (d.bus == DiskDef::Bus::Virtio && d.info.pci)
                    o.add("addr", hex(d.info.pci->slot));
                arg("-drive", o.str());
                continue;
            }

            if (!d.source.empty() && has(QemuCapsFlag::Blockdev)) {
                std::string storage = strprintf("vd-%u-storage", diskNo);
                JsonValue file = JsonValue::object(
                    {{"driver", d.type == DiskDef::Type::Block ? "host_device" : "file"},
                     {"filename", d.source},
                     {"node-name", storage},
                     {"read-only", ro}});
                arg("-blockdev", file.toString());
                drive = storage;
                if (d.format == DiskDef::Format::Qcow2) {
                    std::string fmt = strprintf("vd-%u-format", diskNo);
                    JsonValue f = JsonValue::object({{"node-name", fmt},
                                                     {"read-only", ro},
                                                     {"driver", format},
                                                     {"file", storage}});
                    arg("-blockdev", f.toString());
                    drive = fmt;
                }
            } else if (!d.source.empty()) {
                drive = "drive-" + d.info.alias;
                Opts o;
                o.add("file", d.source).add("format", format).add("if", "none").add("id", drive);
                if (ro)
                    o.add("readonly", "on");
                arg("-drive", o.str());
            }

            int idx = targetIndex(d.targetDev);
            Opts dev;
            switch (d.bus) {
            case DiskDef::Bus::Virtio:
                dev = Opts("virtio-blk-pci");
                addPciAddress(dev, d.info);
                break;
            case DiskDef::Bus::Ide:
                dev = Opts(cdrom ? "ide-cd" : "ide-hd");
                dev.add("bus", "ide." + std::to_string(idx / 2));
                dev.add("unit", static_cast<unsigned>(idx % 2));
                break;
            case DiskDef::Bus::Sata:
                dev = Opts(cdrom ? "ide-cd" : "ide-hd");
                dev.add("bus", "ide." + std::to_string(idx));
                break;
            }
            if (!drive.empty())
                dev.add("drive", drive);
            dev.add("id", d.info.alias);
            if (bootIndex)
                dev.add("bootindex", bootIndex);
            arg("-device", dev.str());
        }
    }

    void buildNets()
    {
        if (nets_.size() != def_.nets.size())
            raiseInternal(strprintf(_("fd plan covers %zu interfaces, the domain has %zu"),
                                    nets_.size(), def_.nets.size()));
        BootIndices boot = bootIndices(def_);
        for (size_t i = 0; i < def_.nets.size(); ++i) {
            const NetDef &net = def_.nets[i];
            const NetFdPlan &plan = nets_[i];
            if (plan.tapFds.size() != queuesOf(net) ||
                (plan.vhost() && plan.vhostFds.size() != plan.tapFds.size()))
                raiseInternal(strprintf(_("fd plan for interface %s does not match its queues"),
                                        net.info.alias.c_str()));
            // QEMU 7.2 aborts on vhost=on without a vhost fd: only ever
            // enable vhost together with the fds.
            if (!has(QemuCapsFlag::Netdev))
                buildLegacyNet(net, plan, i);
            else
                buildNet(net, plan, boot.of(&net), i);
        }
    }

    // A -netdev in the emulator's syntax: JSON, or key=value where booleans
    // become on/off.  Members keep their order.
    void netdev(const std::string &type, const JsonValue::Object &members)
    {
        if (has(QemuCapsFlag::NetdevJson)) {
            JsonValue nd = JsonValue::object({{"type", type}});
            for (const auto &[k, v] : members)
                nd.set(k, v);
            arg("-netdev", nd.toString());
            return;
        }
        Opts nd(type);
        for (const auto &[k, v] : members) {
            if (v.isBool())
                nd.add(k, v.asBool() ? "on" : "off");
            else if (v.isInteger())
                nd.add(k, v.asUInt());
            else
                nd.add(k, v.asString());
        }
        arg("-netdev", nd.str());
    }

    void buildNet(const NetDef &net, const NetFdPlan &plan, unsigned bootIndex, size_t index)
    {
        const std::string id = netdevAlias(net);
        const bool multi = plan.tapFds.size() > 1;
        if (opts_.nicsBehindHub) {
            if (multi || plan.vhost())
                raiseUnsupported(strprintf(
                    _("interface %s: multiqueue and vhost-net cannot be used behind a hub"),
                    net.info.alias.c_str()));
            if (!caps_.hasNetdev("hubport"))
                raiseUnsupported(strprintf(_("emulator %s has no hubport network backend"),
                                           caps_.binary.c_str()));
            netdev("hubport", {{"id", id}, {"hubid", index}});
            netdev("tap", {{"fd", std::to_string(plan.tapFds[0])}, {"id", hubTapId(net)}});
            netdev("hubport",
                   {{"id", hubPortId(net)}, {"hubid", index}, {"netdev", hubTapId(net)}});
        } else {
            // QEMU's tap backend takes fd numbers as strings, several as
            // "a:b:c".  vhost=on only ever goes with its vhost fds: QEMU 7.2
            // aborts on vhost=on without one.
            JsonValue::Object m;
            if (multi)
                m.emplace_back("fds", joinFds(plan.tapFds));
            else
                m.emplace_back("fd", std::to_string(plan.tapFds[0]));
            if (plan.vhost()) {
                m.emplace_back("vhost", true);
                if (multi)
                    m.emplace_back("vhostfds", joinFds(plan.vhostFds));
                else
                    m.emplace_back("vhostfd", std::to_string(plan.vhostFds[0]));
            }
            m.emplace_back("id", id);
            netdev("tap", m);
        }

        const NicModel *m = findNicModel(netModel(net));
        Opts dev(m->device);
        if (multi) {
            dev.add("mq", "on");
            // One vector per rx and tx queue, one for config, one for control.
            dev.add("vectors", 2 * plan.tapFds.size() + 2);
        }
        if (net.mtu && isVirtio(net) && has(QemuCapsFlag::HostMtu))
            dev.add("host_mtu", net.mtu);
        dev.add("netdev", id);
        dev.add("id", net.info.alias);
        dev.add("mac", net.mac.str());
        addPciAddress(dev, net.info);
        if (bootIndex)
            dev.add("bootindex", bootIndex);
        arg("-device", dev.str());
    }

    // -net nic + -net tap, each NIC on its own vlan (hub) so that guests'
    // NICs never see each other's traffic.
    void buildLegacyNet(const NetDef &net, const NetFdPlan &plan, size_t vlan)
    {
        const NicModel *m = findNicModel(netModel(net));
        Opts nic("nic");
        nic.add("macaddr", net.mac.str());
        nic.add("vlan", vlan);
        nic.add("name", net.info.alias);
        nic.add("model", m->legacy);
        if (net.info.pci) {
            if (net.info.pci->bus != 0)
                raiseUnsupported(_("this emulator can only place NICs on the root PCI bus"));
            nic.add("addr", hex(net.info.pci->slot));
        }
        arg("-net", nic.str());
        Opts tap("tap");
        tap.add("fd", std::to_string(plan.tapFds[0]));
        tap.add("vlan", vlan);
        tap.add("name", netdevAlias(net));
        if (plan.vhost()) {
            tap.add("vhost", "on");
            tap.add("vhostfd", std::to_string(plan.vhostFds[0]));
        }
        arg("-net", tap.str());
    }

    void buildSerials()
    {
        // The first console of type serial is serial0 itself; a console
        // without any <serial> becomes the first serial port.
        std::vector<const ChrDef *> ports;
        for (const auto &s : def_.serials)
            ports.push_back(&s);
        if (ports.empty() && !def_.consoles.empty())
            ports.push_back(&def_.consoles.front());
        unsigned next = 0;
        for (const ChrDef *c : ports) {
            unsigned index = c->port.value_or(next);
            next = index + 1;
            if (!has(QemuCapsFlag::Chardev) || !modernDevices()) {
                arg("-serial", c->type == ChrDef::Type::Pty    ? std::string("pty")
                               : c->type == ChrDef::Type::Null ? std::string("null")
                                                               : "file:" + c->path);
                continue;
            }
            std::string chr = chardevAlias(c->info);
            Opts o(c->type == ChrDef::Type::Pty    ? "pty"
                   : c->type == ChrDef::Type::Null ? "null"
                                                   : "file");
            o.add("id", chr);
            if (c->type == ChrDef::Type::File)
                o.add("path", c->path);
            arg("-chardev", o.str());
            arg("-device", Opts("isa-serial")
                               .add("chardev", chr)
                               .add("id", c->info.alias)
                               .add("index", index)
                               .str());
        }
    }

    DomainDef &def_;
    const QemuCaps &caps_;
    const std::vector<NetFdPlan> &nets_;
    const CommandOptions &opts_;
    std::vector<std::string> *warnings_;
    MachineFamily family_;
    std::vector<std::string> argv_;
};

} // namespace

std::vector<std::string> buildCommandLine(DomainDef &def, const QemuCaps &caps,
                                          const std::vector<NetFdPlan> &nets,
                                          const CommandOptions &opts,
                                          std::vector<std::string> *warnings)
{
    checkDomainForQemu(def, caps);
    prepareDomainForQemu(def, caps);
    return Builder(def, caps, nets, opts, warnings).build();
}

void checkNativeFormat(const std::string &format)
{
    if (format != nativeFormatQemuArgv)
        raiseUnsupported(strprintf(_("Unsupported config type %s"), format.c_str()));
}

std::string domainDefToNative(DomainDef def, const vd::Paths &paths, const QemuCaps &caps,
                              bool vhostAvailable, bool kvmUsable, bool multiline)
{
    checkDomainForQemu(def, caps);
    prepareDomainForQemu(def, caps);
    auto plans = planNetFds(def, caps, vhostAvailable);
    CommandOptions opts;
    opts.qmpSocketPath = qmpSocketPath(paths, def.name);
    opts.kvmUsable = kvmUsable;
    std::vector<std::string> warnings;
    auto argv = buildCommandLine(def, caps, plans, opts, &warnings);

    std::string out;
    for (const auto &w : warnings)
        out += "# " + strprintf(_("warning: %s"), w.c_str()) + "\n";
    for (size_t i = 0; i < def.nets.size(); ++i) {
        const auto &n = def.nets[i];
        std::string line = n.ifname.empty()
            ? strprintf(_("%s: macvtap on %s, mode %s, tap fd %s"),
                                     n.info.alias.c_str(), n.sourceDev.c_str(),
                                     std::string(conf::toString(n.mode)).c_str(),
                                     joinFds(plans[i].tapFds).c_str())
            : strprintf(_("%s: macvtap %s on %s, mode %s, tap fd %s"),
                                     n.info.alias.c_str(), n.ifname.c_str(), n.sourceDev.c_str(),
                                     std::string(conf::toString(n.mode)).c_str(),
                                     joinFds(plans[i].tapFds).c_str());
        if (plans[i].vhost())
            line += strprintf(_(", vhost fd %s"), joinFds(plans[i].vhostFds).c_str());
        if (n.linkState == NetDef::LinkState::Down)
            line += _(", link down (set with QMP set_link after start)");
        // A device name with a newline must not end the comment early.
        for (auto &c : line)
            if (c == '\n' || c == '\r')
                c = ' ';
        out += "# " + line + "\n";
    }
    out += formatCommandLine(argv, multiline) + "\n";
    return out;
}

} // namespace vd::qemu
