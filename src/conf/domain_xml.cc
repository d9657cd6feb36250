#include <config.h>

#include "conf/domain_xml.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <string_view>

#include "conf/domain_schema.h"
#include "conf/domain_validate.h"
#include "util/virxml.h"
#include "util/virerror.h"

namespace vd::conf {

namespace {

using xml::checkAttributes;
using xml::checkChildren;
using xml::children;
using xml::prop;
using xml::requiredProp;
using xml::uniqueChild;

std::string nodeName(const xmlNode *n) { return std::string(xml::name(n)); }

// Domain, interface and disk types that libvirt knows but virt-direct does
// not implement: these are "unsupported", anything else is an invalid value.
constexpr std::string_view knownDomainTypes[] = {
    "none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
    "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "ch", "hvf"};
constexpr std::string_view knownNetTypes[] = {
    "user", "ethernet", "vhostuser", "server", "client", "mcast", "network", "bridge",
    "internal", "direct", "hostdev", "udp", "vdpa", "null", "vds"};

bool contains(const auto &list, std::string_view s)
{
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

// Scale a <memory unit=...> value to KiB, rounding up like libvirt.
unsigned long long scaleToKiB(const xmlNode *node, const std::string &value)
{
    std::string unit = prop(node, "unit").value_or("KiB");
    std::string lower;
    for (char c : unit)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    unsigned long long base = 1024, mult = 1;
    int power = 0;
    if (lower == "b" || lower == "byte" || lower == "bytes") {
        power = 0;
    } else if (!lower.empty() && lower.size() <= 3) {
        const std::string_view prefixes = "kmgtpe";
        auto pos = prefixes.find(lower[0]);
        std::string rest = lower.substr(1);
        if (pos == std::string_view::npos || !(rest.empty() || rest == "ib" || rest == "b"))
            xml::invalidValue("unit", nodeName(node).c_str(), unit);
        power = static_cast<int>(pos) + 1;
        if (rest == "b")
            base = 1000;
    } else {
        xml::invalidValue("unit", nodeName(node).c_str(), unit);
    }
    for (int i = 0; i < power; ++i)
        mult *= base;
    unsigned long long n = 0;
    const char *s = value.c_str();
    char *end = nullptr;
    errno = 0;
    if (*s >= '0' && *s <= '9')
        n = std::strtoull(s, &end, 10);
    if (!end || errno || *end != '\0')
        raiseXmlError(strprintf(_("Invalid value '%s' for element or attribute '%s'"),
                                value.c_str(), nodeName(node).c_str()));
    if (n && mult > ~0ULL / n)
        raiseXmlError(strprintf(_("value '%s' of element '%s' is too large"), value.c_str(),
                                nodeName(node).c_str()));
    unsigned long long bytes = n * mult;
    return bytes / 1024 + (bytes % 1024 ? 1 : 0);
}

class Parser {
public:
    explicit Parser(unsigned flags) : flags_(flags) {}
    std::unique_ptr<DomainDef> parse(const xmlNode *root);

private:
    bool inactive() const { return flags_ & PARSE_INACTIVE; }
    bool live() const { return (flags_ & PARSE_LIVE) && !inactive(); }

    void parseOs(const xmlNode *node, DomainDef &def);
    void parseDevices(const xmlNode *node, DomainDef &def);
    DiskDef parseDisk(const xmlNode *node);
    ControllerDef parseController(const xmlNode *node);
    NetDef parseNet(const xmlNode *node);
    ChrDef parseChr(const xmlNode *node, ChrDef::Kind kind);
    // Handles <alias>, <address> and (when allowed) <boot>; returns false
    // for any other child so the caller can handle it.
    bool parseDeviceInfoChild(const xmlNode *child, DeviceInfo &info, bool allowBoot);
    void postParse(DomainDef &def, bool deviceBoot);

    unsigned flags_;
};

LifecycleAction parseLifecycle(const xmlNode *node)
{
    checkAttributes(node, {});
    checkChildren(node, {});
    std::string v = xml::content(node);
    auto a = lifecycleActionFromString(v);
    if (!a) {
        if (v == "coredump-destroy" || v == "coredump-restart")
            raiseUnsupported(strprintf(_("lifecycle action '%s' in element '%s' is not "
                                         "supported"),
                                       v.c_str(), nodeName(node).c_str()));
        raiseXmlError(strprintf(_("Invalid value for element '%s': '%s'"),
                                nodeName(node).c_str(), v.c_str()));
    }
    return *a;
}

std::string parseTextElement(const xmlNode *node)
{
    checkAttributes(node, {});
    checkChildren(node, {});
    return xml::content(node);
}

PciAddress parsePciAddress(const xmlNode *node)
{
    checkAttributes(node, {"type", "domain", "bus", "slot", "function", "multifunction"});
    checkChildren(node, {});
    PciAddress a;
    auto num = [&](const char *attr, unsigned &out) {
        if (auto v = prop(node, attr))
            out = xml::parseUInt(*v, attr, "address", true);
    };
    num("domain", a.domain);
    num("bus", a.bus);
    num("slot", a.slot);
    num("function", a.function);
    if (auto mf = prop(node, "multifunction")) {
        if (*mf == "on")
            a.multifunction = true;
        else if (*mf != "off")
            xml::invalidValue("multifunction", "address", *mf);
    }
    return a;
}

// Every device element may hold each of these at most once.
void checkUniqueDeviceChildren(const xmlNode *node,
                               std::initializer_list<const char *> more = {})
{
    for (const char *once : {"alias", "address", "boot"})
        uniqueChild(node, once);
    for (const char *once : more)
        uniqueChild(node, once);
}

bool Parser::parseDeviceInfoChild(const xmlNode *c, DeviceInfo &info, bool allowBoot)
{
    std::string_view n = xml::name(c);
    if (n == "alias") {
        checkAttributes(c, {"name"});
        checkChildren(c, {});
        std::string alias = requiredProp(c, "name");
        // Only user aliases ("ua-...") belong to the persistent definition.
        if (!inactive() || alias.starts_with("ua-"))
            info.alias = alias;
        return true;
    }
    if (n == "address") {
        std::string type = requiredProp(c, "type");
        if (type != "pci")
            raiseUnsupported(strprintf(_("address type '%s' is not supported"), type.c_str()));
        info.pci = parsePciAddress(c);
        return true;
    }
    if (n == "boot" && allowBoot) {
        checkAttributes(c, {"order"});
        checkChildren(c, {});
        std::string order = requiredProp(c, "order");
        unsigned v = 0;
        try {
            v = xml::parseUInt(order, "order", "boot");
        } catch (const Error &) {
            v = 0;
        }
        if (v == 0)
            raiseXmlError(strprintf(_("incorrect boot order '%s', expecting positive integer"),
                                    order.c_str()));
        info.bootIndex = v;
        return true;
    }
    return false;
}

void Parser::parseOs(const xmlNode *node, DomainDef &def)
{
    checkAttributes(node, {});
    checkChildren(node, {"type", "kernel", "initrd", "cmdline", "boot"});
    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (n == "type") {
            checkAttributes(c, {"arch", "machine"});
            checkChildren(c, {});
            std::string t = xml::content(c);
            if (t != "hvm")
                raiseUnsupported(strprintf(_("OS type '%s' is not supported"), t.c_str()));
            def.os.type = t;
            if (auto a = prop(c, "arch")) {
                if (*a != "x86_64")
                    raiseUnsupported(strprintf(_("architecture '%s' is not supported"),
                                               a->c_str()));
                def.os.arch = *a;
            }
            if (auto m = prop(c, "machine"))
                def.os.machine = *m;
        } else if (n == "kernel") {
            def.os.kernel = parseTextElement(c);
        } else if (n == "initrd") {
            def.os.initrd = parseTextElement(c);
        } else if (n == "cmdline") {
            checkAttributes(c, {});
            checkChildren(c, {});
            def.os.cmdline = xml::content(c, false);
        } else if (n == "boot") {
            checkAttributes(c, {"dev"});
            checkChildren(c, {});
            std::string dev = requiredProp(c, "dev");
            auto b = bootDeviceFromString(dev);
            if (!b)
                raiseXmlError(strprintf(_("unknown boot device '%s'"), dev.c_str()));
            def.os.bootDevs.push_back(*b);
        }
    }
    if (!uniqueChild(node, "type"))
        raiseXmlError(_("an os <type> must be specified"));
    uniqueChild(node, "kernel");
    uniqueChild(node, "initrd");
    uniqueChild(node, "cmdline");
}

DiskDef Parser::parseDisk(const xmlNode *node)
{
    checkAttributes(node, {"type", "device"});
    checkChildren(node,
                  {"driver", "source", "target", "readonly", "boot", "alias", "address"});
    checkUniqueDeviceChildren(node, {"driver", "source", "target", "readonly"});
    DiskDef d;
    std::string type = prop(node, "type").value_or("file");
    if (type == "file")
        d.type = DiskDef::Type::File;
    else if (type == "block")
        d.type = DiskDef::Type::Block;
    else if (type == "dir" || type == "network" || type == "volume" || type == "nvme" ||
             type == "vhostuser")
        raiseUnsupported(strprintf(_("disk type '%s' is not supported"), type.c_str()));
    else
        xml::invalidValue("type", "disk", type);
    std::string device = prop(node, "device").value_or("disk");
    if (device == "disk")
        d.device = DiskDef::Device::Disk;
    else if (device == "cdrom")
        d.device = DiskDef::Device::Cdrom;
    else if (device == "floppy" || device == "lun")
        raiseUnsupported(strprintf(_("disk device '%s' is not supported"), device.c_str()));
    else
        xml::invalidValue("device", "disk", device);

    bool haveTarget = false;
    bool haveBus = false;
    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (parseDeviceInfoChild(c, d.info, true))
            continue;
        if (n == "driver") {
            checkAttributes(c, {"name", "type"});
            checkChildren(c, {});
            if (auto dn = prop(c, "name")) {
                if (*dn != "qemu")
                    raiseUnsupported(strprintf(_("disk driver name '%s' is not supported"),
                                               dn->c_str()));
                d.driverName = *dn;
            }
            if (auto f = prop(c, "type")) {
                if (*f == "raw")
                    d.format = DiskDef::Format::Raw;
                else if (*f == "qcow2")
                    d.format = DiskDef::Format::Qcow2;
                else
                    raiseUnsupported(strprintf(_("disk format '%s' is not supported"),
                                               f->c_str()));
            }
        } else if (n == "source") {
            const char *attr = d.type == DiskDef::Type::File ? "file" : "dev";
            checkAttributes(c, {attr});
            checkChildren(c, {});
            d.source = prop(c, attr).value_or("");
        } else if (n == "target") {
            checkAttributes(c, {"dev", "bus"});
            checkChildren(c, {});
            haveTarget = true;
            d.targetDev = requiredProp(c, "dev");
            if (auto bus = prop(c, "bus")) {
                haveBus = true;
                if (*bus == "virtio")
                    d.bus = DiskDef::Bus::Virtio;
                else if (*bus == "sata")
                    d.bus = DiskDef::Bus::Sata;
                else if (*bus == "ide")
                    d.bus = DiskDef::Bus::Ide;
                else if (*bus == "scsi" || *bus == "usb" || *bus == "fdc" || *bus == "xen" ||
                         *bus == "uml" || *bus == "sd")
                    raiseUnsupported(strprintf(_("disk bus '%s' is not supported"),
                                               bus->c_str()));
                else
                    xml::invalidValue("bus", "target", *bus);
            }
        } else if (n == "readonly") {
            checkAttributes(c, {});
            checkChildren(c, {});
            d.readonly = true;
        } else {
            raiseUnsupported(strprintf(_("element '%s' in '%s' is not supported"),
                                       nodeName(c).c_str(), "disk"));
        }
    }
    if (!haveTarget)
        raiseXmlError(_("missing target information for device"));
    // hdX, sdX, vdX: the letters give the unit number QEMU's layer derives.
    bool goodName = d.targetDev.size() > 2 &&
                    (d.targetDev.starts_with("hd") || d.targetDev.starts_with("sd") ||
                     d.targetDev.starts_with("vd"));
    for (size_t i = 2; goodName && i < d.targetDev.size(); ++i)
        goodName = d.targetDev[i] >= 'a' && d.targetDev[i] <= 'z';
    if (!goodName)
        raiseXmlError(strprintf(_("invalid disk target name '%s': expected hd, sd or vd "
                                  "followed by letters"),
                                d.targetDev.c_str()));
    if (d.source.empty() && d.device == DiskDef::Device::Disk)
        raiseXmlError(strprintf(_("missing source information for disk '%s'"),
                                d.targetDev.c_str()));
    if (!haveBus) {
        // Like libvirt, infer the bus from the target name.
        if (d.targetDev.starts_with("vd"))
            d.bus = DiskDef::Bus::Virtio;
        else if (d.targetDev.starts_with("hd"))
            d.bus = DiskDef::Bus::Ide;
        else
            raiseUnsupported(strprintf(_("disk bus 'scsi' (implied by target '%s') is not "
                                         "supported, set <target bus='sata'/>"),
                                       d.targetDev.c_str()));
    }
    // QEMU's driver defaults, written out like libvirt does: no format
    // probing, an unspecified format is raw.
    if (d.driverName.empty())
        d.driverName = "qemu";
    if (d.format == DiskDef::Format::Default)
        d.format = DiskDef::Format::Raw;
    // CD-ROMs are always read-only; libvirt records that in the XML too.
    if (d.device == DiskDef::Device::Cdrom)
        d.readonly = true;
    return d;
}

ControllerDef Parser::parseController(const xmlNode *node)
{
    checkAttributes(node, {"type", "index", "model"});
    checkChildren(node, {"model", "target", "alias", "address"});
    checkUniqueDeviceChildren(node, {"model", "target"});
    ControllerDef ctl;
    std::string type = requiredProp(node, "type");
    if (type != "pci")
        raiseUnsupported(strprintf(_("controller type '%s' is not supported"), type.c_str()));
    std::string model = requiredProp(node, "model");
    if (model == "pci-root")
        ctl.model = ControllerDef::Model::PciRoot;
    else if (model == "pci-bridge")
        ctl.model = ControllerDef::Model::PciBridge;
    else
        raiseUnsupported(strprintf(_("PCI controller model '%s' is not supported"),
                                   model.c_str()));
    if (auto idx = prop(node, "index"))
        ctl.index = xml::parseUInt(*idx, "index", "controller");
    else
        ctl.index = ctl.model == ControllerDef::Model::PciRoot ? 0 : UINT_MAX;
    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (parseDeviceInfoChild(c, ctl.info, false))
            continue;
        if (n == "model") {
            checkAttributes(c, {"name"});
            checkChildren(c, {});
            std::string mn = requiredProp(c, "name");
            if (ctl.model != ControllerDef::Model::PciBridge || mn != "pci-bridge")
                raiseUnsupported(strprintf(_("PCI controller model name '%s' is not "
                                             "supported for model '%s'"),
                                           mn.c_str(), model.c_str()));
        } else if (n == "target") {
            checkAttributes(c, {"chassisNr"});
            checkChildren(c, {});
            if (ctl.model != ControllerDef::Model::PciBridge)
                raiseUnsupported(strprintf(_("element '%s' in '%s' is not supported"),
                                           "target", "controller model='pci-root'"));
            if (auto nr = prop(c, "chassisNr")) {
                unsigned v = xml::parseUInt(*nr, "chassisNr", "target");
                if (v < 1 || v > 255)
                    raiseXmlError(strprintf(_("PCI controller chassisNr '%u' out of range "
                                              "- must be 1-255"),
                                            v));
                ctl.chassisNr = v;
            }
        }
    }
    return ctl;
}

NetDef Parser::parseNet(const xmlNode *node)
{
    std::string type = requiredProp(node, "type");
    if (type != "direct") {
        if (contains(knownNetTypes, type))
            raiseUnsupported(strprintf(_("interface type '%s' is not supported, only "
                                         "'direct'"),
                                       type.c_str()));
        xml::invalidValue("type", "interface", type);
    }
    checkAttributes(node, {"type", "trustGuestRxFilters"});
    checkChildren(node, {"mac", "source", "model", "target", "driver", "mtu", "link",
                         "alias", "boot", "address"});
    NetDef net;
    if (auto t = prop(node, "trustGuestRxFilters")) {
        if (*t == "yes")
            net.trustGuestRxFilters = true;
        else if (*t == "no")
            net.trustGuestRxFilters = false;
        else
            xml::invalidValue("trustGuestRxFilters", "interface", *t);
    }
    checkUniqueDeviceChildren(node, {"mac", "source", "model", "target", "driver", "mtu", "link"});

    bool haveSource = false;
    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (parseDeviceInfoChild(c, net.info, true))
            continue;
        if (n == "mac") {
            checkAttributes(c, {"address"});
            checkChildren(c, {});
            std::string text = requiredProp(c, "address");
            auto mac = MacAddr::parse(text);
            if (!mac)
                raiseXmlError(strprintf(_("unable to parse mac address '%s'"), text.c_str()));
            if (mac->isMulticast())
                raiseXmlError(strprintf(_("expected unicast mac address, found multicast "
                                          "'%s'"),
                                        text.c_str()));
            if (mac->isZero())
                raiseXmlError(strprintf(_("expected a non-zero mac address, found '%s'"),
                                        text.c_str()));
            net.mac = *mac;
        } else if (n == "source") {
            checkAttributes(c, {"dev", "mode"});
            checkChildren(c, {});
            haveSource = true;
            net.sourceDev = requiredProp(c, "dev");
            checkDeviceName(net.sourceDev, "source dev");
            // Only names of devices we create may be templates.
            if (net.sourceDev.find('%') != std::string::npos)
                raiseXmlError(strprintf(_("invalid source dev name '%s': the name must not "
                                          "contain '%%'"),
                                        net.sourceDev.c_str()));
            if (auto m = prop(c, "mode")) {
                auto mode = macvlanModeFromString(*m);
                // 'source' is a kernel mode libvirt's XML does not offer.
                if (!mode || *mode == MacvlanMode::Source)
                    xml::invalidValue("mode", "source", *m);
                net.mode = *mode;
            } else {
                net.mode = MacvlanMode::Vepa;
            }
        } else if (n == "model") {
            checkAttributes(c, {"type"});
            checkChildren(c, {});
            net.model = requiredProp(c, "type");
            bool ok = !net.model.empty();
            for (char ch : net.model)
                ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                            ch == '_');
            if (!ok)
                xml::invalidValue("type", "model", net.model);
        } else if (n == "target") {
            if (live())
                checkAttributes(c, {"dev", "ifindex"});
            else
                checkAttributes(c, {"dev"});
            checkChildren(c, {});
            std::string dev = requiredProp(c, "dev");
            checkDeviceName(dev, "target dev");
            if (!(inactive() && isAutoGeneratedIfname(dev)))
                net.ifname = dev;
            if (auto ifi = prop(c, "ifindex"))
                net.ifindex = static_cast<int>(xml::parseUInt(*ifi, "ifindex", "target"));
        } else if (n == "driver") {
            checkAttributes(c, {"name", "queues"});
            checkChildren(c, {});
            if (auto dn = prop(c, "name")) {
                if (*dn == "qemu")
                    net.driverName = NetDef::DriverName::Qemu;
                else if (*dn == "vhost")
                    net.driverName = NetDef::DriverName::Vhost;
                else
                    xml::invalidValue("name", "driver", *dn);
            }
            if (auto q = prop(c, "queues")) {
                net.queues = xml::parseUInt(*q, "queues", "driver");
                if (net.queues == 0)
                    xml::invalidValue("queues", "driver", *q);
                // One RX/TX queue pair always exists: libvirt stores 1 as unset.
                if (net.queues == 1)
                    net.queues = 0;
            }
        } else if (n == "mtu") {
            checkAttributes(c, {"size"});
            checkChildren(c, {});
            std::string size = requiredProp(c, "size");
            net.mtu = xml::parseUInt(size, "size", "mtu");
            if (net.mtu == 0)
                raiseXmlError(strprintf(_("Invalid value for attribute 'size' in element "
                                          "'mtu': '%s'."),
                                        size.c_str()));
        } else if (n == "link") {
            checkAttributes(c, {"state"});
            checkChildren(c, {});
            std::string st = requiredProp(c, "state");
            if (st == "up")
                net.linkState = NetDef::LinkState::Up;
            else if (st == "down")
                net.linkState = NetDef::LinkState::Down;
            else
                xml::invalidValue("state", "link", st);
        }
    }
    if (!haveSource)
        raiseXmlError(_("Missing source element for direct interface"));
    return net;
}

ChrDef Parser::parseChr(const xmlNode *node, ChrDef::Kind kind)
{
    const char *elem = kind == ChrDef::Kind::Serial ? "serial" : "console";
    if (kind == ChrDef::Kind::Console)
        checkAttributes(node, {"type", "tty"});
    else
        checkAttributes(node, {"type"});
    checkChildren(node, {"source", "target", "alias"});
    ChrDef chr;
    chr.kind = kind;
    std::string type = prop(node, "type").value_or("pty");
    if (type == "pty")
        chr.type = ChrDef::Type::Pty;
    else if (type == "file")
        chr.type = ChrDef::Type::File;
    else if (type == "null")
        chr.type = ChrDef::Type::Null;
    else if (type == "vc" || type == "dev" || type == "pipe" || type == "stdio" ||
             type == "udp" || type == "tcp" || type == "unix" || type == "spicevmc" ||
             type == "spiceport" || type == "nmdm" || type == "qemu-vdagent" ||
             type == "dbus")
        raiseUnsupported(strprintf(_("%s type '%s' is not supported"), elem, type.c_str()));
    else
        xml::invalidValue("type", elem, type);
    checkUniqueDeviceChildren(node, {"source", "target"});

    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (parseDeviceInfoChild(c, chr.info, false))
            continue;
        if (n == "source") {
            checkAttributes(c, {"path"});
            checkChildren(c, {});
            auto path = prop(c, "path");
            if (chr.type == ChrDef::Type::File) {
                if (!path)
                    raiseXmlError(_("Missing source path attribute for char device"));
                chr.path = *path;
            } else if (chr.type == ChrDef::Type::Pty) {
                // The pty path is allocated by QEMU: live state only.
                if (path && !inactive())
                    chr.path = *path;
            } else {
                raiseUnsupported(strprintf(_("element 'source' in %s type 'null' is not "
                                             "supported"),
                                           elem));
            }
        } else if (n == "target") {
            checkAttributes(c, {"type", "port"});
            checkChildren(c, {"model"});
            if (auto t = prop(c, "type")) {
                const char *expected = kind == ChrDef::Kind::Serial ? "isa-serial" : "serial";
                if (*t != expected)
                    raiseUnsupported(strprintf(_("%s target type '%s' is not supported"),
                                               elem, t->c_str()));
                chr.targetType = *t;
            }
            if (auto p = prop(c, "port"))
                chr.port = xml::parseUInt(*p, "port", "target");
            if (xmlNode *m = uniqueChild(c, "model")) {
                checkAttributes(m, {"name"});
                checkChildren(m, {});
                std::string mn = requiredProp(m, "name");
                if (kind != ChrDef::Kind::Serial || mn != "isa-serial")
                    raiseUnsupported(strprintf(_("%s target model '%s' is not supported"),
                                               elem, mn.c_str()));
            }
        }
    }
    // Old live XML names the console's pty only in the tty attribute.
    if (kind == ChrDef::Kind::Console && chr.type == ChrDef::Type::Pty && chr.path.empty() &&
        !inactive())
        chr.path = prop(node, "tty").value_or("");
    if (chr.type == ChrDef::Type::File && chr.path.empty())
        raiseXmlError(_("Missing source path attribute for char device"));
    return chr;
}

// hda -> 0, hdz -> 25, hdaa -> 26, ... (the prefix was checked by parseDisk).
unsigned diskNameIndex(const std::string &name)
{
    unsigned idx = 0;
    for (size_t i = 2; i < name.size(); ++i)
        idx = (idx + (i > 2 ? 1 : 0)) * 26 + static_cast<unsigned>(name[i] - 'a');
    return idx;
}

// libvirt keeps disks of one bus ordered by target name as it parses them
// (and the QEMU layer assigns addresses in this order): a disk goes before
// the first later-named disk of its bus, else after the last disk of its bus,
// else at the end.
void insertDisk(std::vector<DiskDef> &disks, DiskDef disk)
{
    long insertAt = -1;
    for (long i = static_cast<long>(disks.size()) - 1; i >= 0; --i) {
        const DiskDef &d = disks[static_cast<size_t>(i)];
        if (d.bus != disk.bus)
            continue;
        if (diskNameIndex(d.targetDev) > diskNameIndex(disk.targetDev))
            insertAt = i;
        else if (insertAt == -1)
            insertAt = i + 1;
    }
    if (insertAt < 0)
        disks.push_back(std::move(disk));
    else
        disks.insert(disks.begin() + insertAt, std::move(disk));
}

void Parser::parseDevices(const xmlNode *node, DomainDef &def)
{
    checkAttributes(node, {});
    checkChildren(node, {"emulator", "disk", "controller", "interface", "serial", "console"});
    uniqueChild(node, "emulator");
    for (xmlNode *c : children(node)) {
        std::string_view n = xml::name(c);
        if (n == "emulator")
            def.emulator = parseTextElement(c);
        else if (n == "disk")
            insertDisk(def.disks, parseDisk(c));
        else if (n == "controller")
            def.controllers.push_back(parseController(c));
        else if (n == "interface")
            def.nets.push_back(parseNet(c));
        else if (n == "serial")
            def.serials.push_back(parseChr(c, ChrDef::Kind::Serial));
        else if (n == "console")
            def.consoles.push_back(parseChr(c, ChrDef::Kind::Console));
    }
}

std::unique_ptr<DomainDef> Parser::parse(const xmlNode *root)
{
    if (xml::name(root) != "domain")
        raiseXmlError(strprintf(_("unexpected root element <%s>, expecting <domain>"),
                                nodeName(root).c_str()));
    checkAttributes(root, {"type", "id"});
    checkChildren(root, {"name", "uuid", "title", "description", "memory", "currentMemory",
                         "vcpu", "os", "on_poweroff", "on_reboot", "on_crash", "devices"});
    for (const char *once : {"name", "uuid", "title", "description", "memory",
                             "currentMemory", "vcpu", "os", "on_poweroff", "on_reboot",
                             "on_crash", "devices"})
        uniqueChild(root, once);

    auto def = std::make_unique<DomainDef>();
    std::string type = requiredProp(root, "type");
    if (auto vt = virtTypeFromString(type))
        def->virtType = *vt;
    else if (contains(knownDomainTypes, type))
        raiseUnsupported(strprintf(_("domain type '%s' is not supported, only 'kvm' and "
                                     "'qemu'"),
                                   type.c_str()));
    else
        xml::invalidValue("type", "domain", type);
    if (auto id = prop(root, "id"); id && live())
        def->id = static_cast<int>(xml::parseUInt(*id, "id", "domain"));

    bool haveMemory = false, haveCurrent = false, haveUuid = false;
    for (xmlNode *c : children(root)) {
        std::string_view n = xml::name(c);
        if (n == "name") {
            def->name = parseTextElement(c);
        } else if (n == "uuid") {
            std::string text = parseTextElement(c);
            auto u = uuidFromString(text);
            if (!u)
                raiseXmlError(strprintf(_("malformed uuid element: '%s'"), text.c_str()));
            def->uuid = *u;
            haveUuid = true;
        } else if (n == "title") {
            def->title = parseTextElement(c);
            if (def->title.find('\n') != std::string::npos)
                raiseXmlError(_("Domain title can't contain newlines"));
        } else if (n == "description") {
            checkAttributes(c, {});
            checkChildren(c, {});
            def->description = xml::content(c, false);
        } else if (n == "memory" || n == "currentMemory") {
            checkAttributes(c, {"unit"});
            checkChildren(c, {});
            unsigned long long kib = scaleToKiB(c, xml::content(c));
            if (n == "memory") {
                def->memoryKiB = kib;
                haveMemory = true;
            } else {
                def->currentMemoryKiB = kib;
                haveCurrent = true;
            }
        } else if (n == "vcpu") {
            checkAttributes(c, {"placement"});
            checkChildren(c, {});
            if (auto p = prop(c, "placement"); p && *p != "static") {
                if (*p == "auto")
                    raiseUnsupported(_("vcpu placement 'auto' is not supported"));
                xml::invalidValue("placement", "vcpu", *p);
            }
            std::string text = xml::content(c);
            unsigned v = 0;
            try {
                v = xml::parseUInt(text, "vcpu", "vcpu");
            } catch (const Error &) {
                v = 0;
            }
            if (v == 0)
                raiseXmlError(strprintf(_("maximum vcpus count must be an integer greater "
                                          "than 0, got '%s'"),
                                        text.c_str()));
            def->vcpus = v;
        } else if (n == "os") {
            parseOs(c, *def);
        } else if (n == "on_poweroff") {
            def->onPoweroff = parseLifecycle(c);
        } else if (n == "on_reboot") {
            def->onReboot = parseLifecycle(c);
        } else if (n == "on_crash") {
            def->onCrash = parseLifecycle(c);
        } else if (n == "devices") {
            parseDevices(c, *def);
        }
    }
    if (def->name.empty())
        raiseXmlError(_("missing domain name information"));
    if (!uniqueChild(root, "os"))
        raiseXmlError(_("missing <os> element"));
    if (!haveMemory || def->memoryKiB == 0)
        raiseXmlError(_("Memory size must be specified via <memory> or in the <numa> "
                        "configuration"));
    if (!haveUuid) {
        def->uuid = generateUuid();
        def->uuidGenerated = true;
    }
    if (!haveCurrent || def->currentMemoryKiB == 0 || def->currentMemoryKiB > def->memoryKiB)
        def->currentMemoryKiB = def->memoryKiB;

    bool deviceBoot = false;
    for (auto &d : def->disks)
        deviceBoot = deviceBoot || d.info.bootIndex;
    for (auto &n : def->nets)
        deviceBoot = deviceBoot || n.info.bootIndex;
    if (deviceBoot && !def->os.bootDevs.empty())
        raiseUnsupported(_("per-device boot elements cannot be used together with os/boot "
                           "elements"));
    if (def->name.find('/') != std::string::npos)
        raiseXmlError(strprintf(_("name %s cannot contain '/'"), def->name.c_str()));
    if (def->name == "." || def->name == "..")
        raiseXmlError(strprintf(_("name '%s' is not a valid domain name"), def->name.c_str()));
    postParse(*def, deviceBoot);
    return def;
}

// The defaults libvirt fills in, so our output matches its canonical form.
void Parser::postParse(DomainDef &def, bool deviceBoot)
{
    if (def.os.arch.empty())
        def.os.arch = "x86_64";
    if (def.os.machine.empty())
        def.os.machine = "pc";
    if (def.os.bootDevs.empty() && !deviceBoot)
        def.os.bootDevs.push_back(BootDevice::Hd);
    // The default NIC model is the QEMU driver's (qemu_validate.h).

    // Controllers: implicit pci-root, then bridges get the first free index
    // and their chassis number; keep them sorted by index as libvirt does.
    bool haveRoot = false;
    for (auto &c : def.controllers)
        haveRoot = haveRoot || c.model == ControllerDef::Model::PciRoot;
    if (!haveRoot) {
        ControllerDef root;
        def.controllers.insert(def.controllers.begin(), root);
    }
    // Like libvirt, a controller without index gets the lowest free one.
    for (auto &c : def.controllers) {
        if (c.index != UINT_MAX)
            continue;
        unsigned next = 0;
        auto used = [&](unsigned idx) {
            for (auto &o : def.controllers)
                if (o.index == idx)
                    return true;
            return false;
        };
        while (used(next))
            ++next;
        c.index = next;
    }
    std::stable_sort(def.controllers.begin(), def.controllers.end(),
                     [](const ControllerDef &a, const ControllerDef &b) {
                         return a.index < b.index;
                     });
    for (auto &c : def.controllers)
        if (c.model == ControllerDef::Model::PciBridge && !c.chassisNr && c.index >= 1 &&
            c.index <= 255)
            c.chassisNr = c.index;

    // The first console of target type serial is the first serial port:
    // libvirt creates whichever of the two is missing.
    if (!def.consoles.empty() &&
        (def.consoles[0].targetType.empty() || def.consoles[0].targetType == "serial")) {
        if (def.serials.empty()) {
            ChrDef s = def.consoles[0];
            s.kind = ChrDef::Kind::Serial;
            s.targetType.clear();
            s.port.reset();
            def.serials.push_back(s);
        }
    } else if (def.consoles.empty() && !def.serials.empty()) {
        ChrDef con = def.serials[0];
        con.kind = ChrDef::Kind::Console;
        con.targetType = "serial";
        con.port.reset();
        def.consoles.push_back(con);
    }
    // Serial ports, in libvirt's order of post-parse steps: ports of
    // explicitly typed isa-serial devices first (lowest free of QEMU's four
    // ISA ports), then untyped ones get isa-serial and the highest port
    // in use plus one.
    {
        bool used[4] = {false, false, false, false};
        size_t isaCount = 0;
        for (auto &s : def.serials) {
            if (s.targetType != "isa-serial")
                continue;
            if (isaCount++ >= 4 || (s.port && *s.port >= 4))
                raiseXmlError(strprintf(_("Maximum supported number of ISA serial ports is "
                                          "'%d'"),
                                        4));
            if (s.port) {
                if (used[*s.port])
                    raiseXmlError(strprintf(_("target port '%u' already allocated"), *s.port));
                used[*s.port] = true;
            }
        }
        for (auto &s : def.serials) {
            if (s.targetType != "isa-serial" || s.port)
                continue;
            for (unsigned p = 0; p < 4; ++p)
                if (!used[p]) {
                    s.port = p;
                    used[p] = true;
                    break;
                }
        }
    }
    for (auto &s : def.serials) {
        if (s.targetType.empty())
            s.targetType = "isa-serial";
        if (!s.port) {
            unsigned next = 0;
            for (auto &o : def.serials)
                if (o.port)
                    next = std::max(next, *o.port + 1);
            s.port = next;
        }
    }
    // Checked again after assignment so that parse(format(x)) accepts
    // whatever parse(x) accepted.
    if (def.serials.size() > 4)
        raiseXmlError(strprintf(_("Maximum supported number of ISA serial ports is '%d'"), 4));
    bool portUsed[4] = {false, false, false, false};
    for (auto &s : def.serials) {
        if (*s.port >= 4)
            raiseXmlError(strprintf(_("Maximum supported number of ISA serial ports is '%d'"),
                                    4));
        if (portUsed[*s.port])
            raiseXmlError(strprintf(_("target port '%u' already allocated"), *s.port));
        portUsed[*s.port] = true;
    }
    // A console of target type serial is another view of the serial port
    // with the same position (libvirt formats it as a copy of that port).
    for (size_t i = 0; i < def.consoles.size() && i < def.serials.size(); ++i) {
        ChrDef &con = def.consoles[i];
        if (!con.targetType.empty() && con.targetType != "serial")
            continue;
        const ChrDef &ser = def.serials[i];
        con.targetType = "serial";
        con.type = ser.type;
        con.path = ser.path;
        con.port = ser.port;
        con.info.alias = ser.info.alias;
    }
    for (auto &c : def.consoles) {
        if (c.targetType.empty())
            c.targetType = "serial";
        if (!c.port) {
            unsigned next = 0;
            for (auto &o : def.consoles)
                if (o.port)
                    next = std::max(next, *o.port + 1);
            c.port = next;
        }
    }
}

} // namespace

std::unique_ptr<DomainDef> parseDomainXML(const std::string &text, unsigned flags)
{
    xml::DocPtr doc = xml::parseDocument(text, "(domain_definition)");
    return Parser(flags).parse(xmlDocGetRootElement(doc.get()));
}

std::unique_ptr<DomainDef> parseAndValidateDomainXML(const std::string &text, unsigned flags,
                                                     bool validateSchema)
{
    auto def = parseDomainXML(text, flags);
    if (validateSchema)
        validateXMLAgainstSchema(text, domainSchemaDir() + "/domain.rng");
    validateDomainDef(*def);
    return def;
}

} // namespace vd::conf
