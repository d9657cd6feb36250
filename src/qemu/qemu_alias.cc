#include <config.h>

#include "qemu/qemu_alias.h"

#include <cctype>
#include <set>

#include "util/virerror.h"

namespace vd::qemu {

bool isValidQemuId(const std::string &id)
{
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0])))
        return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
            return false;
    return true;
}

std::string netdevAlias(const conf::NetDef &net) { return "host" + net.info.alias; }

std::string chardevAlias(const conf::DeviceInfo &info) { return "char" + info.alias; }

namespace {

// The next "<prefix><N>" not already taken, counting from `next`.
std::string nextFree(const std::set<std::string> &used, const std::string &prefix, unsigned &next)
{
    std::string name;
    do {
        name = prefix + std::to_string(next++);
    } while (used.count(name));
    return name;
}

std::string diskAlias(const conf::DiskDef &disk)
{
    const std::string &t = disk.targetDev;
    // vda -> virtio-disk0, hdc -> ide0-1-0 (controller 0, bus 1, unit 0).
    if (t.size() >= 3 && std::islower(static_cast<unsigned char>(t.back()))) {
        unsigned idx = static_cast<unsigned>(t.back() - 'a');
        if (t.size() == 3 && disk.bus == conf::DiskDef::Bus::Virtio && t.rfind("vd", 0) == 0)
            return "virtio-disk" + std::to_string(idx);
        if (t.size() == 3 && disk.bus == conf::DiskDef::Bus::Ide && t.rfind("hd", 0) == 0)
            return "ide0-" + std::to_string(idx / 2) + "-" + std::to_string(idx % 2);
        if (t.size() == 3 && disk.bus == conf::DiskDef::Bus::Sata && t.rfind("sd", 0) == 0)
            return "sata0-0-" + std::to_string(idx);
    }
    return {};
}

} // namespace

void assignDeviceAliases(conf::DomainDef &def)
{
    std::set<std::string> used;
    auto claim = [&](conf::DeviceInfo &info) {
        if (info.alias.empty())
            return;
        if (!isValidQemuId(info.alias))
            raiseUnsupported(strprintf(
                _("device alias '%s' cannot be used as a QEMU id: it must start with a letter "
                  "and contain only letters, digits, '-', '.' and '_'"),
                info.alias.c_str()));
        if (!used.insert(info.alias).second)
            raiseXmlError(strprintf(_("non unique alias detected: %s"), info.alias.c_str()));
    };
    for (auto &c : def.controllers)
        claim(c.info);
    for (auto &d : def.disks)
        claim(d.info);
    for (auto &n : def.nets)
        claim(n.info);
    for (auto &s : def.serials)
        claim(s.info);
    for (size_t i = 0; i < def.consoles.size(); ++i) {
        // The first console shares the first serial port's alias (it is the
        // same device), so it is not a duplicate.
        if (i == 0 && !def.serials.empty() &&
            def.consoles[0].info.alias == def.serials[0].info.alias)
            continue;
        claim(def.consoles[i].info);
    }

    for (auto &c : def.controllers) {
        if (!c.info.alias.empty())
            continue;
        c.info.alias = c.model == conf::ControllerDef::Model::PciRoot
                           ? std::string("pci.0")
                           : "pci." + std::to_string(c.index);
        if (!used.insert(c.info.alias).second)
            raiseXmlError(strprintf(_("non unique alias detected: %s"), c.info.alias.c_str()));
    }
    unsigned nextDisk = 0;
    for (auto &d : def.disks) {
        if (!d.info.alias.empty())
            continue;
        std::string a = diskAlias(d);
        if (a.empty() || used.count(a))
            a = nextFree(used, "disk", nextDisk);
        d.info.alias = a;
        used.insert(a);
    }
    unsigned nextNet = 0;
    for (auto &n : def.nets) {
        if (n.info.alias.empty()) {
            n.info.alias = nextFree(used, "net", nextNet);
            used.insert(n.info.alias);
        }
    }
    unsigned nextSerial = 0;
    for (auto &s : def.serials) {
        if (s.info.alias.empty()) {
            s.info.alias = nextFree(used, "serial", nextSerial);
            used.insert(s.info.alias);
        }
    }
    // A serial-type console is the same device as the first serial port
    // (libvirt's convention); only a console without a serial gets its own.
    for (size_t i = 0; i < def.consoles.size(); ++i) {
        auto &c = def.consoles[i];
        if (!c.info.alias.empty())
            continue;
        if (i == 0 && !def.serials.empty())
            c.info.alias = def.serials[0].info.alias;
        else {
            c.info.alias = nextFree(used, "serial", nextSerial);
            used.insert(c.info.alias);
        }
    }
    // Backend ids derived from aliases must be valid and unique too; the
    // prefixes keep them from colliding with device aliases.
    for (auto &n : def.nets)
        if (!isValidQemuId(netdevAlias(n)))
            raiseInternal(strprintf(_("cannot derive a backend id from alias '%s'"),
                                    n.info.alias.c_str()));
}

} // namespace vd::qemu
