// The per-domain supervisor: one small process per running domain that is
// QEMU's parent (like podman's conmon).
//
// The CLI does not stay around while a guest runs, yet someone must notice
// QEMU's exit and tear down what start created (macvtaps, reserved names,
// runtime state), and later react to netlink events about the macvtap
// parents.  The supervisor does that:
//
//   CLI ── launchSupervisor() ──exec──▶ supervisor ──vircommand──▶ QEMU
//         config JSON on its stdin       holds the QMP connection
//         "ready"/error on its stdout    writes the runtime state file
//         tap fds at their QEMU numbers  serves a control socket
//                                        on QEMU's exit: teardown callback,
//                                        removes state file and sockets
//
// The supervisor is exec'ed (not merely forked) so it starts as a clean,
// single-threaded process whatever threads the CLI ran.  Everything it
// waits for is an EventLoop watch, so more sources (a netlink socket watching
// the parents) can be added with loop() before run().
//
// The control socket speaks QMP (greeting, qmp_capabilities, then commands)
// so the CLI talks to a running domain with vd::qemu::Monitor:
// commands are forwarded to QEMU (fds sent along with SCM_RIGHTS travel on
// to QEMU, e.g. for getfd), except the supervisor's own:
//   vd-query-state   the runtime state (as in the state file)
//   vd-destroy       SIGTERM to QEMU, SIGKILL after the shutdown timeout
//   vd-set-state     {"state": X}: replace the opaque state (what teardown
//                    will see, e.g. after a NIC was hot-plugged) and rewrite
//                    the state file
// Control connections stay open until teardown has finished and the state
// file is gone, so a client that waits for EOF (Monitor::waitForClose)
// after vd-destroy or quit knows the domain is completely cleaned up.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qemu/qemu_monitor.h"
#include "util/vircommand.h"
#include "util/vireventloop.h"
#include "util/virjson.h"

namespace vd::qemu {

struct SupervisorConfig {
    std::string name;              // domain name, for messages
    std::vector<std::string> argv; // QEMU's argv; argv[0] is the emulator
    // fd numbers QEMU inherits; the supervisor holds them at the same
    // numbers (launchSupervisor puts them there) and closes its copies once
    // QEMU runs.  Must be >= 3.
    std::vector<int> passFds;
    std::string monitorSocket; // QEMU's QMP socket (argv makes QEMU listen)
    std::string controlSocket; // served by the supervisor
    std::string stateFile;     // runtime state, written when ready
    std::string qemuLog;       // QEMU's stdout/stderr (appended)
    // QMP commands run after connecting, before reporting ready, e.g.
    // {"execute": "set_link", ...} for link-down NICs, then "cont".
    std::vector<JsonValue> startupCommands;
    std::chrono::milliseconds monitorTimeout{30000};  // QEMU up and QMP ready
    std::chrono::milliseconds shutdownTimeout{10000}; // SIGTERM -> SIGKILL
    // Keep our copies of passFds open while QEMU runs, so QEMU's exit does
    // not release the macvtap queues one by one; the teardown takes them.
    bool holdPassFds = false;
    // Opaque to the supervisor: copied into the state file under "state"
    // and available to the teardown callback (e.g. the macvtaps created).
    JsonValue state = JsonValue::object();

    JsonValue toJson() const;
    // Throws VIR_ERR_INTERNAL_ERROR naming the missing/invalid member.
    static SupervisorConfig fromJson(const JsonValue &json);
};

class Supervisor {
public:
    // Called once after QEMU is gone (also when start-up failed), before the
    // state file is removed.  Exceptions are logged, not propagated.
    using Teardown = std::function<void(const SupervisorConfig &, const ExitStatus &)>;

    explicit Supervisor(SupervisorConfig config);
    ~Supervisor();
    Supervisor(const Supervisor &) = delete;
    Supervisor &operator=(const Supervisor &) = delete;

    void setTeardown(Teardown teardown) { teardown_ = std::move(teardown); }
    // Called once QEMU's monitor is connected, before the start-up commands
    // (e.g. to bring the host side of its NICs up); an exception fails the
    // start.  Done here, not by whoever launched us, so that the domain is
    // complete when it reports ready even if the launcher is gone by then.
    using QemuUp = std::function<void(const SupervisorConfig &)>;
    void setQemuUp(QemuUp qemuUp) { qemuUp_ = std::move(qemuUp); }
    // Add watches here (before run()) to react to more events.
    EventLoop &loop() { return loop_; }
    const SupervisorConfig &config() const { return config_; }
    // Valid between ready and QEMU's exit.
    Monitor *monitor() { return monitor_.get(); }
    Child &qemu() { return qemu_; }
    // The copies of passFds kept with holdPassFds (for the teardown).
    std::vector<UniqueFd> takeHeldFds() { return std::move(heldFds_); }

    // Start QEMU, connect, run the start-up commands, write the state file,
    // serve the control socket, then report on `readyFd` one JSON line:
    // {"ready": true, "qemuPid": N} or {"error": {"code": C, "message": M}}
    // and close it.  Then dispatch events until QEMU exits, tear down and
    // clean up.  Returns the process exit code: 0, or 1 if start failed or
    // supervision failed (an event callback threw; QEMU is then stopped
    // and torn down like after its exit).
    int run(int readyFd);

    // The runtime state as written to the state file.
    JsonValue runtimeState() const;
    // Replace config().state (what the teardown gets) and rewrite the state
    // file atomically.
    void updateState(JsonValue state);

private:
    struct ControlClient;

    void start();
    void failStart(const Error &err, int readyFd);
    // Stop watching QEMU, terminate it (SIGTERM, SIGKILL after `grace`) and
    // record its exit status: for the failure paths, outside the loop.
    void stopQemuNow(std::chrono::milliseconds grace);
    void finish();
    void onQemuExit(const ExitStatus &status);
    void onMonitorReadable();
    void destroyQemu();
    void acceptControlClient();
    void onControlReadable(ControlClient *client);
    JsonValue handleControlCommand(const JsonValue &request, int fd);
    void dropControlClient(ControlClient *client);
    void log(const std::string &message) const;

    SupervisorConfig config_;
    EventLoop loop_;
    Child qemu_;
    std::unique_ptr<Monitor> monitor_;
    UniqueFd controlListener_;
    std::vector<std::unique_ptr<ControlClient>> controlClients_;
    EventLoop::WatchId monitorWatch_ = 0, controlWatch_ = 0, killTimer_ = 0;
    std::optional<ExitStatus> exitStatus_;
    Teardown teardown_;
    QemuUp qemuUp_;
    std::vector<UniqueFd> heldFds_;
    bool tornDown_ = false;
};

// The supervisor process's main: reads the config JSON from stdin (fd 0),
// reports readiness on stdout (fd 1, replaced by /dev/null afterwards), logs
// to stderr.  `customize` (optional) can set the teardown and add watches.
// The CLI's hidden "supervise" subcommand just calls this.
int supervisorMain(const std::function<void(Supervisor &)> &customize = {});

// CLI side: exec `supervisorCommand` (whose main calls supervisorMain),
// with `fds` (QEMU fd number -> our fd) placed at those numbers, send it the
// config and wait (at most `timeout`) until it reports ready.  Returns the
// supervisor's Child — detach() it to leave the domain running after the
// CLI exits.  On failure throws the supervisor's error (code and message as
// reported, e.g. "internal error: process exited while connecting to
// monitor: ..."), after the supervisor has torn down and exited.  A SIGINT,
// SIGTERM or SIGHUP that the caller holds blocked (pending) cancels the
// start like the timeout does (VIR_ERR_OPERATION_ABORTED).
struct LaunchedDomain {
    Child supervisor;
    pid_t qemuPid = -1;
};
// `spawned` (optional) is called with the supervisor's pid before it is sent
// its configuration: a supervisor never configured exits without doing
// anything, so a caller that records the pid there (an intent record) can
// never lose track of a supervisor that does something.
LaunchedDomain launchSupervisor(Command supervisorCommand, const SupervisorConfig &config,
                                const std::vector<std::pair<int, int>> &fds,
                                std::chrono::milliseconds timeout,
                                const std::function<void(pid_t)> &spawned = {});

} // namespace vd::qemu
