// What an emulator binary can do, learnt once by probing it over QMP and
// cached per binary (path, size, mtime) in the root's cache directory.
//
// The command-line generator decides every option from a QemuCaps, never from
// the QEMU it runs on, so tests feed it fixed capability fixtures
// (tests/qemucapabilitiesdata/*.xml) and golden files stay machine-independent.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/virpaths.h"

namespace vd::qemu {

// Features the command line depends on.  The names (see toString) are the
// spelling in the capability XML; never rename one.
enum class QemuCapsFlag {
    Qmp,          // -qmp / QMP monitor protocol
    Device,       // -device
    Netdev,       // -netdev (else only the legacy -net nic / -net tap pair)
    NetdevJson,   // -netdev accepts a JSON object
    Blockdev,     // -blockdev (else -drive)
    Chardev,      // -chardev / -mon
    Machine,      // -machine (else -M)
    Accel,        // -accel (else -machine accel= / -enable-kvm)
    NoDefaults,   // -nodefaults
    NoUserConfig, // -no-user-config
    DisplayNone,  // -display none
    VhostNet,     // tap backend takes vhost=on,vhostfd=
    HostMtu,      // virtio-net-pci has the host_mtu property
    Kvm,          // the binary was built with KVM support
    Last
};

std::string_view toString(QemuCapsFlag f);
std::optional<QemuCapsFlag> qemuCapsFlagFromString(std::string_view s);

struct QemuMachine {
    std::string name;  // e.g. pc-i440fx-7.2
    std::string alias; // e.g. pc
    bool isDefault = false;
    bool operator==(const QemuMachine &) const = default;
};

struct QemuCaps {
    // Identity of the probed binary; the cache is valid while these match.
    std::string binary;
    unsigned long long binarySize = 0;
    long long binaryMtimeNs = 0;

    unsigned version = 0; // major * 1000000 + minor * 1000 + micro
    std::string package;  // distribution's package string, informational
    std::string arch = "x86_64";

    std::set<QemuCapsFlag> flags;
    std::vector<QemuMachine> machines;
    std::set<std::string> deviceTypes; // qom types implementing "device"
    std::set<std::string> netdevTypes; // tap, hubport, user, ...

    bool has(QemuCapsFlag f) const { return flags.count(f) != 0; }
    void set(QemuCapsFlag f, bool on = true)
    {
        if (on)
            flags.insert(f);
        else
            flags.erase(f);
    }
    bool hasDevice(const std::string &type) const { return deviceTypes.count(type) != 0; }
    bool hasNetdev(const std::string &type) const { return netdevTypes.count(type) != 0; }

    // "7.2.22"
    std::string versionString() const;
    // The machine `name` (or its alias) names, or nullptr.
    const QemuMachine *findMachine(const std::string &name) const;
    // The default machine's name (alias preferred, like "pc"), or "".
    std::string defaultMachine() const;

    // The capability XML (cache entries and test fixtures share it).
    std::string toXML() const;
    // Throws vd::Error(VIR_ERR_INTERNAL_ERROR) naming `what` on malformed XML.
    static QemuCaps fromXML(const std::string &xml, const std::string &what);
    static QemuCaps fromFile(const std::string &path);
};

// The emulator a domain runs: <emulator> when set, otherwise
// qemu-system-<arch> (arch defaults to x86_64) found on $PATH.  Throws
// VIR_ERR_CONFIG_UNSUPPORTED when none is found.
std::string findEmulator(const std::string &emulator, const std::string &arch);

// Run the binary (-machine none, QMP on stdio, no guest) and learn what it
// can do.  Falls back to -version/-help parsing for emulators without QMP.
// Throws vd::Error(VIR_ERR_INTERNAL_ERROR) with QEMU's own message on failure.
QemuCaps probeQemuCaps(const std::string &binary);

// Probe results cached in <cacheDir>/qemu/capabilities/, one XML file per
// binary path; an entry is used only while the binary's size and mtime (and
// this program's version) are unchanged, otherwise the binary is probed again.
class QemuCapsCache {
public:
    explicit QemuCapsCache(const vd::Paths &paths);
    QemuCaps get(const std::string &binary);
    // Where the entry for `binary` lives (for tests and diagnostics).
    std::string entryPath(const std::string &binary) const;
    // How many probes this cache object ran (tests check reuse).
    unsigned probes() const { return probes_; }

private:
    std::string dir_;
    unsigned probes_ = 0;
};

} // namespace vd::qemu
