// Running domains: start (prepare NICs, launch the supervisor and QEMU),
// destroy, and the runtime state that lets short-lived CLI processes find a
// running domain again.
//
// Runtime files of domain NAME under Paths::runDir:
//   NAME.xml         live XML (target dev, ifindex, aliases, addresses)
//   NAME.state.json  written by the supervisor: pids, sockets, and under
//                    "state" what teardown needs (macvtap records, owner)
//   NAME.qmp         QEMU's QMP socket (the supervisor's connection)
//   NAME.ctl         the supervisor's control socket (QMP protocol)
//   NAME.log         QEMU's stdout/stderr
//   netdev/          the macvtap name pool's reservations
// The supervisor removes all but the log when QEMU exits, the state file
// last; a command that finds the supervisor dead (pid checks) does the same
// cleanup itself.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/domain_conf.h"
#include "util/virnetdevmacvtap.h"
#include "util/virpaths.h"

namespace vd::qemu {

class Supervisor;
class DomainLock;

struct RunningDomain {
    std::string name;
    int id = -1;
    pid_t supervisorPid = -1;
    pid_t qemuPid = -1;
    std::string controlSocket;
    std::vector<MacvtapRecord> macvtaps;
    std::unique_ptr<conf::DomainDef> live; // parsed NAME.xml
};

// Report of each start phase when `verbose`.
using PhaseReporter = std::function<void(const std::string &phase, double seconds)>;

struct StartOptions {
    std::string supervisorProgram; // the virt-direct binary (exec'ed as "supervise")
    PhaseReporter phases;          // may be empty
    std::chrono::milliseconds timeout{60000};
};

// Start `def` (already validated).  Throws vd::Error; on failure nothing is
// left behind: no device, process, runtime file or reserved name.  Returns
// the domain id.  `def` is updated to the live definition.
int startDomain(const Paths &paths, conf::DomainDef &def, const StartOptions &opts);
// The same for a caller that already holds the domain's lock (see
// qemu_domain_lock.h), e.g. to check the definition and start atomically.
int startDomain(const Paths &paths, conf::DomainDef &def, const StartOptions &opts,
                const DomainLock &held);

// The running domain of that name, or nullopt.  A domain whose supervisor
// died is cleaned up (QEMU killed, devices deleted, names released) and
// reported as not running.
std::optional<RunningDomain> findRunningDomain(const Paths &paths, const std::string &name);
// The same for a caller holding the domain's lock.
std::optional<RunningDomain> findRunningDomain(const Paths &paths, const std::string &name,
                                               const DomainLock &held);
// All running domains (after stale cleanup), sorted by name.
std::vector<RunningDomain> runningDomains(const Paths &paths);

// SIGTERM then SIGKILL, through the supervisor; waits until everything is
// torn down.  Throws VIR_ERR_OPERATION_INVALID when not running.
void destroyDomain(const Paths &paths, const std::string &name,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

// ACPI power button.
void shutdownDomain(const Paths &paths, const std::string &name);

// set_link on the NIC named by its target dev or MAC; updates the live XML.
void setInterfaceLink(const Paths &paths, const std::string &name, const std::string &iface,
                      bool up);

// Teardown of a domain's host side, used by the supervisor when QEMU exits
// and by stale cleanup: deletes the macvtaps in bulk, closes `heldFds` in
// parallel, releases the names and removes the runtime files except the
// state file.  The caller removes that one last: while it exists the domain
// counts as running (or, its supervisor dead, as needing cleanup), so no
// new start can reuse the name while teardown is still under way.
void teardownDomainHost(const Paths &paths, const std::string &name,
                        const std::vector<MacvtapRecord> &records,
                        std::vector<UniqueFd> heldFds);

// The hidden `virt-direct supervise` command: the supervisor's main with
// the teardown above plugged in.
int supervisorProcessMain();

} // namespace vd::qemu
