// SPDX-License-Identifier: LGPL-2.1-or-later
// Domain event callbacks (CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY and
// DEREGISTER_ANY): life-cycle events reach every client that asked, as
// DOMAIN_EVENT_CALLBACK_LIFECYCLE messages, so `virsh event --loop` and the
// bindings' event loops work.  Other event ids are accepted (a client
// asking for all of them must not fail) but never fire: virt-direct has no
// such events.
#include <config.h>

#include <libvirt/libvirt.h>

#include "remote/remote_daemon_dispatch.h"
#include "util/virerror.h"

namespace vd::remote {

namespace {

// VIR_DOMAIN_EVENT_ID_LAST of the libvirt headers we build against.
constexpr int32_t DomainEventIdCount = VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE + 1;

void registerCallback(RemoteCall &c, RemoteProgram &program)
{
    int32_t eventId = c.args.getI32();
    std::optional<Uuid> domain;
    if (c.args.getBool())
        domain = getDomain(c.args).uuid;
    if (eventId < 0 || eventId >= DomainEventIdCount)
        throw Error(VIR_ERR_INTERNAL_ERROR, strprintf(_("unsupported event ID %d"), eventId),
                    VIR_FROM_REMOTE);
    program.ensureEventWatcher();
    int32_t id;
    {
        std::lock_guard lock(c.state.mutex);
        id = c.state.nextCallbackId++;
        c.state.callbacks[id] = {eventId, domain};
    }
    c.ret.putI32(id);
}

void deregisterCallback(RemoteCall &c)
{
    int32_t id = c.args.getI32();
    std::lock_guard lock(c.state.mutex);
    if (!c.state.callbacks.erase(id))
        throw Error(VIR_ERR_INTERNAL_ERROR,
                    strprintf(_("domain event %d not registered"), id), VIR_FROM_REMOTE);
}

} // namespace

void RemoteProgram::registerEventProcedures()
{
    add(ProcConnectDomainEventCallbackRegisterAny, {[this](RemoteCall &c) {
                                                        registerCallback(c, *this);
                                                        std::lock_guard lock(eventMutex_);
                                                        listeners_[c.client->id()] = c.client;
                                                    },
                                                    true});
    add(ProcConnectDomainEventCallbackDeregisterAny, {deregisterCallback, true});
}

void RemoteProgram::ensureEventWatcher()
{
    std::lock_guard lock(eventMutex_);
    if (!events_)
        events_ = std::make_unique<qemu::DomainEventWatcher>(
            *driver_, [this](const qemu::DomainEvent &e) { publish(e); });
}

void RemoteProgram::expectStop(const std::string &name, int detail)
{
    std::lock_guard lock(eventMutex_);
    if (events_)
        events_->expectStop(name, detail);
}

void RemoteProgram::syncEvents()
{
    qemu::DomainEventWatcher *watcher;
    {
        std::lock_guard lock(eventMutex_);
        watcher = events_.get();
    }
    // The watcher lives until the program is destroyed, after all calls.
    if (watcher)
        watcher->sync();
}

void RemoteProgram::publish(const qemu::DomainEvent &event)
{
    WireDomain dom;
    dom.name = event.domain.name;
    std::copy(event.domain.uuid.begin(), event.domain.uuid.end(), dom.uuid.begin());
    dom.id = event.domain.id;
    std::vector<std::shared_ptr<rpc::ServerClient>> clients;
    {
        std::lock_guard lock(eventMutex_);
        for (auto it = listeners_.begin(); it != listeners_.end();) {
            if (auto c = it->second.lock()) {
                clients.push_back(std::move(c));
                ++it;
            } else {
                it = listeners_.erase(it);
            }
        }
    }
    for (const auto &client : clients) {
        auto &state = static_cast<RemoteClientData &>(*client->data());
        std::vector<int32_t> ids;
        {
            std::lock_guard lock(state.mutex);
            for (const auto &[id, cb] : state.callbacks)
                if (cb.eventId == VIR_DOMAIN_EVENT_ID_LIFECYCLE &&
                    (!cb.domain || *cb.domain == dom.uuid))
                    ids.push_back(id);
        }
        for (int32_t id : ids) {
            rpc::XdrEncoder body;
            body.putI32(id);
            putDomain(body, dom);
            body.putI32(event.event);
            body.putI32(event.detail);
            client->sendMessage(RemoteProgramNumber, RemoteProtocolVersion,
                                ProcDomainEventCallbackLifecycle, body.data());
        }
    }
}

} // namespace vd::remote
