// SPDX-License-Identifier: LGPL-2.1-or-later
// The QEMU driver: every decision about domains, behind one API that every
// front end calls (the virt-direct CLI today, a libvirt-protocol server
// next).  libvirt's qemu_driver.c plays this role.
//
// Conventions, so that all front ends behave alike:
//   - Each function takes parsed arguments (XML text, a domain name or
//     UUID, libvirt flag bits) and returns values; every failure is a
//     vd::Error carrying libvirt's virterror code, domain and wording.
//   - Flags are libvirt's own (virDomainXMLFlags, virConnectListAllDomains-
//     Flags, ...), so a server passes them through unchanged; unknown bits
//     are refused with VIR_ERR_INVALID_ARG like libvirt's virCheckFlags.
//   - Each function does its own locking (qemu_domain_lock.h): a Driver can
//     be shared by any number of threads, and several processes can work on
//     the same state directories at once.
//   - Domains are named by name; lookupByUUID/lookupByID turn the other
//     identities into a DomainInfo whose name the other calls take.
//
// Extending it (dominfo-style queries, device hot-plug, autostart, networks)
// means adding a member function here, never logic in a front end.
#pragma once

#include <libvirt/libvirt.h>

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/virpaths.h"

namespace vd::qemu {

using Uuid = std::array<unsigned char, 16>;

// What libvirt's virDomainGetInfo/GetState/IsPersistent report together.
struct DomainInfo {
    std::string name;
    Uuid uuid{};
    int id = -1; // -1 unless running
    virDomainState state = VIR_DOMAIN_SHUTOFF;
    int reason = VIR_DOMAIN_SHUTOFF_UNKNOWN; // a vir*Reason of `state`
    unsigned long long maxMemoryKiB = 0;
    unsigned long long memoryKiB = 0;
    unsigned vcpus = 0;
    std::optional<unsigned long long> cpuTimeNs; // QEMU's user+system time
    bool persistent = false;
    std::optional<bool> autostart; // nullopt: autostart not supported yet

    bool active() const { return id >= 0; }
};

// One guest NIC as virsh's domiflist/domif-getlink see it.
struct InterfaceInfo {
    std::string target; // host device (macvtapN) or "" when not running
    std::string type;   // "direct"
    std::string source; // the parent device
    std::string model;  // "" when none
    std::string mac;
    bool linkUp = true;
};

// virDomainInterfaceStats: the counters of one guest NIC (-1 = unknown).
struct InterfaceStats {
    long long rxBytes = -1, rxPackets = -1, rxErrs = -1, rxDrop = -1;
    long long txBytes = -1, txPackets = -1, txErrs = -1, txDrop = -1;
};

// Reports each start phase and its duration (start --verbose).
using StartPhaseReporter = std::function<void(const std::string &phase, double seconds)>;

struct StartParams {
    unsigned flags = 0; // virDomainCreateFlags; none supported yet
    StartPhaseReporter phases;
};

struct DriverOptions {
    // The virt-direct binary the supervisor is exec'ed from ("supervise");
    // empty = this process's own executable.
    std::string supervisorProgram;
};

class Driver {
public:
    explicit Driver(Paths paths, DriverOptions options = {});

    const Paths &paths() const noexcept { return paths_; }

    // --- Definitions ---------------------------------------------------
    // Schema + semantic checks of a domain XML document; stores nothing.
    void validateXML(const std::string &xml) const;
    // Store a definition (flags: VIR_DOMAIN_DEFINE_VALIDATE, always done).
    // Keeps the UUID of an existing definition of that name when the XML
    // has none; refuses a different UUID for an existing name and a UUID
    // another domain has (libvirt's VIR_ERR_OPERATION_FAILED messages).
    // Assigns MACs and PCI addresses, as libvirt does at define time.
    DomainInfo defineXML(const std::string &xml, unsigned flags = 0);
    // Remove the definition; a running domain keeps running (transient).
    void undefine(const std::string &name, unsigned flags = 0);

    // --- Lookups (VIR_ERR_NO_DOMAIN when unknown) ------------------------
    DomainInfo lookupByName(const std::string &name) const;
    DomainInfo lookupByUUID(const Uuid &uuid) const;
    DomainInfo lookupByUUIDString(const std::string &uuid) const;
    DomainInfo lookupByID(int id) const;
    // virConnectListAllDomainsFlags: ACTIVE/INACTIVE, PERSISTENT/TRANSIENT
    // (0 = all).  Running domains first by id, then the others by name.
    std::vector<DomainInfo> listDomains(unsigned flags = 0) const;
    // VIR_DOMAIN_XML_INACTIVE: the persistent definition even when running.
    std::string getXMLDesc(const std::string &name, unsigned flags = 0) const;
    // The guest NICs of the live definition when running, else the stored.
    std::vector<InterfaceInfo> interfaces(const std::string &name) const;
    // The NIC `iface` names (its host device name or its MAC), or nullopt.
    std::optional<InterfaceInfo> findInterface(const std::string &name,
                                               const std::string &iface) const;

    // --- Life cycle ----------------------------------------------------
    // Start a transient domain.  Refused (VIR_ERR_OPERATION_FAILED) when a
    // domain of that name is defined with another UUID, or another domain
    // has its UUID.
    DomainInfo createXML(const std::string &xml, const StartParams &params = {});
    // Start a defined domain; VIR_ERR_OPERATION_INVALID when running.
    DomainInfo start(const std::string &name, const StartParams &params = {});
    // Stop now (SIGTERM, then SIGKILL); waits until all is torn down.
    void destroy(const std::string &name, unsigned flags = 0);
    // ACPI power button.
    void shutdown(const std::string &name, unsigned flags = 0);

    // Traffic counters of the running domain's NIC `iface` (host device
    // name or MAC), as its macvtap counts them: a macvtap shares the guest's
    // view, so rx is what the guest received (libvirt does not swap them
    // for direct interfaces either).
    InterfaceStats interfaceStats(const std::string &name, const std::string &iface) const;

    // --- NIC link state (QMP set_link) ----------------------------------
    void setLink(const std::string &name, const std::string &iface, bool up);
    // VIR_ERR_INVALID_ARG when the domain has no such NIC.
    bool getLink(const std::string &name, const std::string &iface) const;

    // virDomainUpdateDeviceFlags.  Today only an <interface> whose link
    // state (<link state='up|down'/>) is to change, on the running domain
    // (flags: VIR_DOMAIN_AFFECT_CURRENT/LIVE) -- what virsh domif-setlink
    // sends.  The NIC is found by its MAC, else its target dev.
    void updateDevice(const std::string &name, const std::string &deviceXML,
                      unsigned flags = 0);

    // --- Native formats ------------------------------------------------
    // The QEMU command line start would run (format "qemu-argv" only).
    std::string toNative(const std::string &format, const std::string &xml) const;

private:
    Paths paths_;
    DriverOptions options_;
};

// The body of the hidden `virt-direct supervise NAME` command: the
// per-domain supervisor that start execs (qemu_supervisor.h).
int superviseMain();

} // namespace vd::qemu
