// SPDX-License-Identifier: LGPL-2.1-or-later
// libvirt's REMOTE_PROGRAM served on top of the driver API: each procedure
// decodes its arguments, calls the same vd::qemu::Driver function the CLI
// calls, and encodes the result.  Errors travel back with their virterror
// code and domain, so virsh prints the same "error: ..." lines as
// virt-direct.  Procedures not served answer VIR_ERR_NO_SUPPORT in
// libvirt's words.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "qemu/qemu_domain_event.h"
#include "qemu/qemu_driver.h"
#include "remote/remote_protocol.h"
#include "rpc/virnetserver.h"
#include "util/virpaths.h"

namespace vd::remote {

// The per-connection state of the remote program.
class RemoteClientData : public rpc::ClientData {
public:
    struct Callback {
        int32_t eventId = 0;
        std::optional<Uuid> domain; // only events of this domain
    };

    std::mutex mutex;
    bool opened = false;
    bool readOnly = false;
    std::string uri;
    std::map<int32_t, Callback> callbacks;
    int32_t nextCallbackId = 1;
};

struct RemoteCall;

class RemoteProgram : public rpc::Program {
public:
    explicit RemoteProgram(Paths paths);
    ~RemoteProgram() override;

    uint32_t number() const override { return RemoteProgramNumber; }
    uint32_t version() const override { return RemoteProtocolVersion; }
    std::unique_ptr<rpc::ClientData> newClientData() override;
    std::string dispatch(const std::shared_ptr<rpc::ServerClient> &client, uint32_t proc,
                         std::string_view args) override;
    void clientClosed(rpc::ServerClient &client) override;

    using Handler = std::function<void(RemoteCall &)>;
    struct Procedure {
        Handler run;
        bool readOnlyAllowed = false; // changes nothing: allowed on libvirt-sock-ro
        bool beforeOpen = false;      // may run before CONNECT_OPEN
    };

    const Paths &paths() const noexcept { return paths_; }

private:
    void registerConnectProcedures();
    void registerDomainProcedures();
    void registerEventProcedures();
    void publish(const qemu::DomainEvent &event);
    // Tell the event watcher why `name` is about to stop.
    void expectStop(const std::string &name, int detail);
    // After a change made through us: report its events now.
    void syncEvents();

public:
    // Start watching for domain events once a client first asks for them.
    void ensureEventWatcher();

private:
    void add(uint32_t proc, Procedure p) { procedures_[proc] = std::move(p); }

    Paths paths_;
    std::unique_ptr<qemu::Driver> driver_;
    std::map<uint32_t, Procedure> procedures_;

    std::mutex eventMutex_;
    std::unique_ptr<qemu::DomainEventWatcher> events_;
    // Clients with registered callbacks, by client id.
    std::map<uint64_t, std::weak_ptr<rpc::ServerClient>> listeners_;
};

// One call in progress: the client, its state, the decoder over the
// arguments and the encoder of the reply.
struct RemoteCall {
    RemoteProgram &program;
    const std::shared_ptr<rpc::ServerClient> &client;
    RemoteClientData &state;
    rpc::XdrDecoder args;
    rpc::XdrEncoder ret;
};

} // namespace vd::remote
