// SPDX-License-Identifier: LGPL-2.1-or-later
// The domain procedures: each one decodes its arguments, calls the driver
// function the CLI calls and encodes the answer in remote_protocol.x's
// layout.  A domain handle from the client is resolved by its name, the
// identity every driver function takes.
#include <config.h>

#include <libvirt/libvirt.h>

#include "qemu/qemu_driver.h"
#include "remote/remote_daemon_dispatch.h"
#include "util/virerror.h"

namespace vd::remote {

namespace {

WireDomain wire(const qemu::DomainInfo &info)
{
    WireDomain d;
    d.name = info.name;
    std::copy(info.uuid.begin(), info.uuid.end(), d.uuid.begin());
    d.id = info.id;
    return d;
}

std::string domainArg(RemoteCall &c) { return getDomain(c.args).name; }

std::string xmlArg(RemoteCall &c) { return c.args.getString(RemoteStringMax); }

void putDomainList(RemoteCall &c, const std::vector<qemu::DomainInfo> &list, bool needResults)
{
    if (list.size() > RemoteDomainListMax)
        throw Error(VIR_ERR_RPC,
                    strprintf(_("too many remote domains: %zu > %u"), list.size(),
                              RemoteDomainListMax),
                    VIR_FROM_REMOTE);
    if (!needResults) {
        c.ret.putU32(0);
    } else {
        c.ret.putU32(static_cast<uint32_t>(list.size()));
        for (const auto &info : list)
            putDomain(c.ret, wire(info));
    }
    c.ret.putU32(static_cast<uint32_t>(list.size()));
}

// virConnectListDomains / ListDefinedDomains: at most `max` entries.
int32_t maxArg(RemoteCall &c)
{
    int32_t max = c.args.getI32();
    if (max < 0 || static_cast<uint32_t>(max) > RemoteDomainListMax)
        throw Error(VIR_ERR_RPC, strprintf(_("maximum of %d entries is out of range"), max),
                    VIR_FROM_REMOTE);
    return max;
}

void listActiveIds(RemoteCall &c, qemu::Driver &d)
{
    int32_t max = maxArg(c);
    auto list = d.listDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    size_t n = std::min(list.size(), static_cast<size_t>(max));
    c.ret.putU32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i)
        c.ret.putI32(list[i].id);
}

void listInactiveNames(RemoteCall &c, qemu::Driver &d)
{
    int32_t max = maxArg(c);
    auto list = d.listDomains(VIR_CONNECT_LIST_DOMAINS_INACTIVE);
    size_t n = std::min(list.size(), static_cast<size_t>(max));
    c.ret.putU32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i)
        c.ret.putString(list[i].name, RemoteStringMax);
}

void getInfo(RemoteCall &c, qemu::Driver &d)
{
    auto info = d.lookupByName(domainArg(c));
    c.ret.putU32(static_cast<uint32_t>(info.state));
    c.ret.putU64(info.maxMemoryKiB);
    c.ret.putU64(info.memoryKiB);
    c.ret.putU32(info.vcpus);
    c.ret.putU64(info.cpuTimeNs.value_or(0));
}

void interfaceStats(RemoteCall &c, qemu::Driver &d)
{
    std::string name = domainArg(c);
    std::string path = c.args.getString(RemoteStringMax);
    auto st = d.interfaceStats(name, path);
    for (long long v : {st.rxBytes, st.rxPackets, st.rxErrs, st.rxDrop, st.txBytes,
                        st.txPackets, st.txErrs, st.txDrop})
        c.ret.putI64(v);
}

} // namespace

void RemoteProgram::registerDomainProcedures()
{
    qemu::Driver &d = *driver_;
    auto ro = [this](uint32_t proc, std::function<void(RemoteCall &)> fn) {
        add(proc, {std::move(fn), true});
    };
    // A change made through us: its events go out before the reply.
    auto rw = [this](uint32_t proc, std::function<void(RemoteCall &)> fn) {
        add(proc, {[this, fn = std::move(fn)](RemoteCall &c) {
                       try {
                           fn(c);
                       } catch (...) {
                           syncEvents();
                           throw;
                       }
                       syncEvents();
                   },
                   false});
    };

    ro(ProcDomainLookupByName,
       [&d](RemoteCall &c) { putDomain(c.ret, wire(d.lookupByName(c.args.getString(RemoteStringMax)))); });
    ro(ProcDomainLookupByUUID, [&d](RemoteCall &c) {
        Uuid uuid = getUuid(c.args);
        putDomain(c.ret, wire(d.lookupByUUID(uuid)));
    });
    ro(ProcDomainLookupByID,
       [&d](RemoteCall &c) { putDomain(c.ret, wire(d.lookupByID(c.args.getI32()))); });
    ro(ProcConnectListAllDomains, [&d](RemoteCall &c) {
        bool needResults = c.args.getI32() != 0;
        putDomainList(c, d.listDomains(c.args.getU32()), needResults);
    });
    ro(ProcConnectListDomains, [&d](RemoteCall &c) { listActiveIds(c, d); });
    ro(ProcConnectListDefinedDomains, [&d](RemoteCall &c) { listInactiveNames(c, d); });
    ro(ProcConnectNumOfDomains, [&d](RemoteCall &c) {
        c.ret.putI32(static_cast<int32_t>(d.listDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE).size()));
    });
    ro(ProcConnectNumOfDefinedDomains, [&d](RemoteCall &c) {
        c.ret.putI32(
            static_cast<int32_t>(d.listDomains(VIR_CONNECT_LIST_DOMAINS_INACTIVE).size()));
    });
    ro(ProcDomainGetXMLDesc, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        unsigned flags = c.args.getU32();
        c.ret.putString(d.getXMLDesc(name, flags), RemoteStringMax);
    });
    ro(ProcDomainGetState, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        unsigned flags = c.args.getU32();
        if (flags)
            throw Error(VIR_ERR_INVALID_ARG,
                        strprintf(_("unsupported flags (0x%x) in function %s"), flags,
                                  "qemuDomainGetState"),
                        VIR_FROM_QEMU);
        auto info = d.lookupByName(name);
        c.ret.putI32(info.state);
        c.ret.putI32(info.reason);
    });
    ro(ProcDomainGetInfo, [&d](RemoteCall &c) { getInfo(c, d); });
    ro(ProcDomainGetMaxMemory,
       [&d](RemoteCall &c) { c.ret.putU64(d.lookupByName(domainArg(c)).maxMemoryKiB); });
    ro(ProcDomainGetOSType, [&d](RemoteCall &c) {
        d.lookupByName(domainArg(c));
        c.ret.putString("hvm", RemoteStringMax); // the only OS type virt-direct runs
    });
    ro(ProcDomainIsActive,
       [&d](RemoteCall &c) { c.ret.putI32(d.lookupByName(domainArg(c)).active() ? 1 : 0); });
    ro(ProcDomainIsPersistent,
       [&d](RemoteCall &c) { c.ret.putI32(d.lookupByName(domainArg(c)).persistent ? 1 : 0); });
    ro(ProcDomainIsUpdated, [&d](RemoteCall &c) {
        d.lookupByName(domainArg(c));
        c.ret.putI32(0); // live changes are never pending for the config
    });
    ro(ProcDomainGetAutostart, [&d](RemoteCall &c) {
        c.ret.putI32(d.lookupByName(domainArg(c)).autostart.value_or(false) ? 1 : 0);
    });
    ro(ProcDomainHasManagedSaveImage, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        c.args.getU32(); // flags
        d.lookupByName(name);
        c.ret.putI32(0); // virt-direct has no managed save
    });
    ro(ProcDomainInterfaceStats, [&d](RemoteCall &c) { interfaceStats(c, d); });

    rw(ProcDomainDefineXML,
       [&d](RemoteCall &c) { putDomain(c.ret, wire(d.defineXML(xmlArg(c)))); });
    rw(ProcDomainDefineXMLFlags, [&d](RemoteCall &c) {
        std::string xml = xmlArg(c);
        putDomain(c.ret, wire(d.defineXML(xml, c.args.getU32())));
    });
    rw(ProcDomainUndefine, [&d](RemoteCall &c) { d.undefine(domainArg(c)); });
    rw(ProcDomainUndefineFlags, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        d.undefine(name, c.args.getU32());
    });
    rw(ProcDomainCreate, [&d](RemoteCall &c) { d.start(domainArg(c)); });
    rw(ProcDomainCreateWithFlags, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        qemu::StartParams params;
        params.flags = c.args.getU32();
        putDomain(c.ret, wire(d.start(name, params)));
    });
    rw(ProcDomainCreateXML, [&d](RemoteCall &c) {
        std::string xml = xmlArg(c);
        qemu::StartParams params;
        params.flags = c.args.getU32();
        putDomain(c.ret, wire(d.createXML(xml, params)));
    });
    rw(ProcDomainDestroy, [this, &d](RemoteCall &c) {
        std::string name = domainArg(c);
        expectStop(name, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
        d.destroy(name);
    });
    rw(ProcDomainDestroyFlags, [this, &d](RemoteCall &c) {
        std::string name = domainArg(c);
        unsigned flags = c.args.getU32();
        expectStop(name, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
        d.destroy(name, flags);
    });
    rw(ProcDomainShutdown, [&d](RemoteCall &c) { d.shutdown(domainArg(c)); });
    rw(ProcDomainShutdownFlags, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        d.shutdown(name, c.args.getU32());
    });
    rw(ProcDomainUpdateDeviceFlags, [&d](RemoteCall &c) {
        std::string name = domainArg(c);
        std::string xml = xmlArg(c);
        d.updateDevice(name, xml, c.args.getU32());
    });
}

} // namespace vd::remote
