// The QEMU command line for a domain with direct (macvtap) NICs.
//
// Everything here is pure: it turns a DomainDef, the emulator's capabilities
// and the fd NUMBERS the NICs will have in QEMU into argv, touching nothing
// on the host.  The start code opens the real tap/vhost fds and dup2()s them
// onto exactly the numbers planNetFds() chose; domxml-to-native prints the
// same argv without opening anything.
//
// Every value that reaches an option string is either escaped for the
// parser that reads it (QemuOpts/keyval double commas, JSON for -netdev and
// -blockdev) or refused with a clear error when it cannot be expressed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"
#include "util/virpaths.h"

namespace vd::qemu {

// The fds one NIC hands to QEMU, as numbers in QEMU's fd table.
struct NetFdPlan {
    std::vector<int> tapFds;   // one per queue
    std::vector<int> vhostFds; // one per queue; empty = no vhost-net
    bool vhost() const { return !vhostFds.empty(); }
    bool operator==(const NetFdPlan &) const = default;
};

// Whether a NIC uses vhost-net: <driver name='vhost'> demands it (and fails
// with "vhost-net was requested for an interface, but is unavailable" when
// the host or emulator lacks it), name='qemu' refuses it, no name uses it
// when available and the model is virtio.
bool netUsesVhost(const conf::NetDef &net, bool vhostAvailable);

// Per NIC, in <interface> order: queue count tap fds, then as many vhost fds
// when vhost-net is used, numbered consecutively from `firstFd`.
std::vector<NetFdPlan> planNetFds(const conf::DomainDef &def, bool vhostAvailable,
                                  int firstFd = 3);
// The same, also refusing vhost when the emulator cannot take vhost fds.
std::vector<NetFdPlan> planNetFds(const conf::DomainDef &def, const QemuCaps &caps,
                                  bool vhostAvailable, int firstFd = 3);

// One more than the highest fd number in the plans: QEMU's RLIMIT_NOFILE
// must be above this (plus QEMU's own fds) — 250 NICs with 8 queues and
// vhost need about 4000, above the usual soft limit of 1024.
int planFdCeiling(const std::vector<NetFdPlan> &plans);

struct CommandOptions {
    std::string qmpSocketPath;     // QEMU listens here (server=on,wait=off)
    std::string pidFilePath;       // -pidfile when set
    bool startPaused = false;      // -S: the start code sends "cont" later
    bool kvmUsable = true;         // false: type='kvm' falls back to TCG
    // Put every NIC behind its own QEMU hub (hub id = NIC index): the NIC's
    // peer is `-netdev hubport,id=hostnetN` and the tap backend joins the
    // hub through a second port, so a backend can later be deleted and
    // re-added over QMP without the guest seeing a hot-plug (the reconnect
    // roadmap item).  Costs offloads, vhost and multiqueue, so those are
    // refused in this mode.
    bool nicsBehindHub = false;
};

// Ids used in hub mode for NIC `net`: its tap backend and the hub port that
// joins it to the NIC's hub (hostnet0-tap, hostnet0-port).
std::string hubTapId(const conf::NetDef &net);
std::string hubPortId(const conf::NetDef &net);

// Refuse what this emulator cannot run or we cannot express, with the
// libvirt-style error (VIR_ERR_CONFIG_UNSUPPORTED, VIR_ERR_XML_ERROR, ...).
void checkDomainForQemu(const conf::DomainDef &def, const QemuCaps &caps);

// Fill in what the command line names: device aliases and PCI addresses
// (adding pci-bridges as needed).  Idempotent; buildCommandLine calls it.
void prepareDomainForQemu(conf::DomainDef &def, const QemuCaps &caps);

// argv for QEMU (argv[0] is the emulator).  `nets` must come from
// planNetFds for the same def.  Warnings (e.g. the TCG fallback) are
// appended to `warnings` when given.
std::vector<std::string> buildCommandLine(conf::DomainDef &def, const QemuCaps &caps,
                                          const std::vector<NetFdPlan> &nets,
                                          const CommandOptions &opts,
                                          std::vector<std::string> *warnings = nullptr);

// NICs whose <link state='down'/> the start code applies with QMP set_link
// (QEMU has no command-line option for it); their device aliases.
std::vector<std::string> linkDownAliases(const conf::DomainDef &def);

// Value escaping for QemuOpts / keyval option strings: ',' becomes ",,".
std::string qemuOptEscape(std::string_view value);
// POSIX shell quoting: bare when safe, otherwise single quotes.
std::string shellQuote(std::string_view arg);
// One shell line, like `virsh domxml-to-native` prints; with `multiline`
// each option starts a new line after " \\" (libvirt's .args style).
std::string formatCommandLine(const std::vector<std::string> &argv, bool multiline = false);

// Where a domain's QMP socket lives under the run directory.
std::string qmpSocketPath(const vd::Paths &paths, const std::string &domainName);

// domxml-to-native for a parsed definition: "# ..." comment lines naming
// each NIC's source device, mode and fds, then the command line that start
// would run (same fd numbers), newline-terminated.  Creates nothing.
std::string domainDefToNative(conf::DomainDef def, const vd::Paths &paths, const QemuCaps &caps,
                              bool vhostAvailable, bool kvmUsable, bool multiline = false);

// The only native format: "qemu-argv".  checkNativeFormat throws
// VIR_ERR_CONFIG_UNSUPPORTED "Unsupported config type X" (libvirt's text)
// for anything else.
inline constexpr const char *nativeFormatQemuArgv = "qemu-argv";
void checkNativeFormat(const std::string &format);

// (Parsing a file and probing the host for domxml-to-native is the
// driver's: qemu::Driver::toNative.)

} // namespace vd::qemu
