// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "remote/remote_daemon_dispatch.h"

#include <libvirt/libvirt.h>

#include "qemu/qemu_capabilities.h"
#include "util/virerror.h"
#include "util/virhostinfo.h"

namespace vd::remote {

namespace {

constexpr const char *DefaultUri = "virt-direct:///system";

std::string apiNameOf(uint32_t proc)
{
    const char *name = procedureApiName(proc);
    return name ? name : strprintf("procedure %u", proc);
}

[[noreturn]] void raiseNoSupport(uint32_t proc)
{
    if (procedureApiName(proc))
        throw Error(VIR_ERR_NO_SUPPORT, apiNameOf(proc), VIR_FROM_REMOTE);
    throw Error(VIR_ERR_NO_SUPPORT, strprintf(_("unknown procedure: %u"), proc),
                VIR_FROM_REMOTE);
}

// The scheme of a libvirt URI ("virt-direct" of "virt-direct:///system").
std::string uriScheme(const std::string &uri)
{
    auto colon = uri.find(':');
    return colon == std::string::npos ? "" : uri.substr(0, colon);
}

void connectOpen(RemoteCall &call)
{
    std::optional<std::string> name = call.args.getOptionalString(RemoteStringMax);
    uint32_t flags = call.args.getU32();
    std::string uri = name && !name->empty() ? *name : DefaultUri;
    std::string scheme = uriScheme(uri);
    // The client's remote driver strips its transport ("+unix") and the
    // socket parameter, so we see e.g. "virt-direct:///system".
    if (scheme != "virt-direct" && scheme != "qemu")
        throw Error(VIR_ERR_NO_CONNECT, uri, VIR_FROM_NONE);
    std::lock_guard lock(call.state.mutex);
    call.state.opened = true;
    call.state.readOnly = call.client->readOnly() || (flags & VIR_CONNECT_RO);
    call.state.uri = uri;
}

void connectSupportsFeature(RemoteCall &call)
{
    int32_t feature = call.args.getI32();
    bool supported = feature == FeatureProgramKeepalive ||
                     feature == FeatureRemoteEventCallback ||
                     feature == FeatureRemoteCloseCallback;
    call.ret.putI32(supported ? 1 : 0);
}

// The emulator's version as libvirt reports it (major*1000000 + minor*1000
// + micro), from the capability cache the driver uses.
uint64_t hypervisorVersion(const Paths &paths)
{
    qemu::QemuCapsCache cache(paths);
    return cache.get(qemu::findEmulator("", hostArch())).version;
}

void nodeGetInfo(RemoteCall &call)
{
    NodeInfo info = hostNodeInfo();
    putCharArrayFixed(call.ret, info.model, 32);
    call.ret.putU64(info.memoryKiB);
    call.ret.putI32(static_cast<int32_t>(info.cpus));
    call.ret.putI32(static_cast<int32_t>(info.mhz));
    call.ret.putI32(static_cast<int32_t>(info.nodes));
    call.ret.putI32(static_cast<int32_t>(info.sockets));
    call.ret.putI32(static_cast<int32_t>(info.cores));
    call.ret.putI32(static_cast<int32_t>(info.threads));
}

} // namespace

RemoteProgram::RemoteProgram(Paths paths)
    : paths_(std::move(paths)), driver_(std::make_unique<qemu::Driver>(paths_))
{
    registerConnectProcedures();
    registerDomainProcedures();
    registerEventProcedures();
}

RemoteProgram::~RemoteProgram()
{
    events_.reset(); // its thread calls publish(): stop it first
}

void RemoteProgram::registerConnectProcedures()
{
    add(ProcAuthList, {[](RemoteCall &c) {
                           c.ret.putU32(1);
                           c.ret.putI32(0); // REMOTE_AUTH_NONE
                       },
                       true, true});
    add(ProcConnectSupportsFeature, {connectSupportsFeature, true, true});
    add(ProcConnectOpen, {connectOpen, true, true});
    add(ProcConnectClose, {[](RemoteCall &c) {
                               std::lock_guard lock(c.state.mutex);
                               c.state.opened = false;
                               c.state.callbacks.clear();
                           },
                           true, false});
    add(ProcConnectGetType, {[](RemoteCall &c) { c.ret.putString("QEMU", RemoteStringMax); },
                             true});
    add(ProcConnectGetVersion,
        {[](RemoteCall &c) { c.ret.putU64(hypervisorVersion(c.program.paths())); }, true});
    add(ProcConnectGetLibVersion,
        {[](RemoteCall &c) { c.ret.putU64(LIBVIR_VERSION_NUMBER); }, true});
    add(ProcConnectGetHostname,
        {[](RemoteCall &c) { c.ret.putString(hostName(), RemoteStringMax); }, true});
    add(ProcConnectGetURI, {[](RemoteCall &c) {
                                std::lock_guard lock(c.state.mutex);
                                c.ret.putString(c.state.uri, RemoteStringMax);
                            },
                            true});
    add(ProcConnectIsSecure, {[](RemoteCall &c) { c.ret.putI32(1); }, true}); // local socket
    add(ProcNodeGetInfo, {nodeGetInfo, true});
    add(ProcNodeGetSecurityModel, {[](RemoteCall &c) {
                                       // No security driver: empty model and DOI.
                                       putCharArrayVar(c.ret, "", RemoteSecurityModelMax);
                                       putCharArrayVar(c.ret, "", RemoteSecurityDoiMax);
                                   },
                                   true});
    add(ProcConnectRegisterCloseCallback, {[](RemoteCall &) {}, true});
    add(ProcConnectUnregisterCloseCallback, {[](RemoteCall &) {}, true});
}

std::unique_ptr<rpc::ClientData> RemoteProgram::newClientData()
{
    return std::make_unique<RemoteClientData>();
}

std::string RemoteProgram::dispatch(const std::shared_ptr<rpc::ServerClient> &client,
                                    uint32_t proc, std::string_view args)
{
    auto &state = static_cast<RemoteClientData &>(*client->data());
    auto it = procedures_.find(proc);
    if (it == procedures_.end())
        raiseNoSupport(proc);
    const Procedure &p = it->second;
    bool opened, readOnly;
    {
        std::lock_guard lock(state.mutex);
        opened = state.opened;
        readOnly = state.readOnly || client->readOnly();
    }
    if (!p.beforeOpen && !opened)
        throw Error(VIR_ERR_INTERNAL_ERROR, _("connection not open"), VIR_FROM_REMOTE);
    if (readOnly && !p.readOnlyAllowed)
        throw Error(VIR_ERR_OPERATION_DENIED,
                    strprintf(_("read only access prevents %s"), apiNameOf(proc).c_str()),
                    VIR_FROM_REMOTE);
    RemoteCall call{*this, client, state, rpc::XdrDecoder(args), {}};
    p.run(call);
    call.args.finish();
    return call.ret.take();
}

void RemoteProgram::clientClosed(rpc::ServerClient &client)
{
    std::lock_guard lock(eventMutex_);
    listeners_.erase(client.id());
}

} // namespace vd::remote
