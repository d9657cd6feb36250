// SPDX-License-Identifier: LGPL-2.1-or-later
// libvirt's REMOTE_PROGRAM: program and procedure numbers, limits and the
// wire form of the objects the procedures pass around.  Numbers and layouts
// are facts of libvirt's src/remote/remote_protocol.x; the code is ours.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "rpc/virxdr.h"

namespace vd::remote {

constexpr uint32_t RemoteProgramNumber = 0x20008086;
constexpr uint32_t RemoteProtocolVersion = 1;

constexpr uint32_t RemoteStringMax = 4194304;
constexpr uint32_t RemoteDomainListMax = 16384;
constexpr uint32_t RemoteNetworkListMax = 16384;
constexpr uint32_t RemoteAuthTypeListMax = 20;
constexpr uint32_t RemoteSecurityModelMax = 257; // VIR_SECURITY_MODEL_BUFLEN
constexpr uint32_t RemoteSecurityDoiMax = 257;   // VIR_SECURITY_DOI_BUFLEN

// The driver features a client asks about (virDrvFeature).
enum DrvFeature : int32_t {
    FeatureProgramKeepalive = 10,
    FeatureRemoteEventCallback = 14,
    FeatureRemoteCloseCallback = 15,
};

enum Proc : uint32_t {
    ProcConnectOpen = 1,
    ProcConnectClose = 2,
    ProcConnectGetType = 3,
    ProcConnectGetVersion = 4,
    ProcConnectGetMaxVcpus = 5,
    ProcNodeGetInfo = 6,
    ProcConnectGetCapabilities = 7,
    ProcDomainAttachDevice = 8,
    ProcDomainCreate = 9,
    ProcDomainCreateXML = 10,
    ProcDomainDefineXML = 11,
    ProcDomainDestroy = 12,
    ProcDomainDetachDevice = 13,
    ProcDomainGetXMLDesc = 14,
    ProcDomainGetAutostart = 15,
    ProcDomainGetInfo = 16,
    ProcDomainGetMaxMemory = 17,
    ProcDomainGetMaxVcpus = 18,
    ProcDomainGetOSType = 19,
    ProcConnectListDefinedDomains = 21,
    ProcDomainLookupByID = 22,
    ProcDomainLookupByName = 23,
    ProcDomainLookupByUUID = 24,
    ProcConnectNumOfDefinedDomains = 25,
    ProcDomainSetAutostart = 29,
    ProcDomainShutdown = 33,
    ProcDomainUndefine = 35,
    ProcConnectListDefinedNetworks = 36,
    ProcConnectListDomains = 37,
    ProcConnectListNetworks = 38,
    ProcNetworkCreate = 39,
    ProcNetworkCreateXML = 40,
    ProcNetworkDefineXML = 41,
    ProcNetworkDestroy = 42,
    ProcNetworkGetXMLDesc = 43,
    ProcNetworkGetAutostart = 44,
    ProcNetworkGetBridgeName = 45,
    ProcNetworkLookupByName = 46,
    ProcNetworkLookupByUUID = 47,
    ProcNetworkSetAutostart = 48,
    ProcNetworkUndefine = 49,
    ProcConnectNumOfDefinedNetworks = 50,
    ProcConnectNumOfDomains = 51,
    ProcConnectNumOfNetworks = 52,
    ProcConnectGetHostname = 59,
    ProcConnectSupportsFeature = 60,
    ProcDomainInterfaceStats = 65,
    ProcAuthList = 66,
    ProcConnectDomainEventRegister = 105,
    ProcConnectDomainEventDeregister = 106,
    ProcDomainEventLifecycle = 107,
    ProcConnectGetURI = 110,
    ProcNodeGetSecurityModel = 122,
    ProcConnectIsSecure = 149,
    ProcDomainIsActive = 150,
    ProcDomainIsPersistent = 151,
    ProcNetworkIsActive = 152,
    ProcNetworkIsPersistent = 153,
    ProcConnectGetLibVersion = 157,
    ProcDomainAttachDeviceFlags = 160,
    ProcDomainDetachDeviceFlags = 161,
    ProcConnectDomainEventRegisterAny = 167,
    ProcConnectDomainEventDeregisterAny = 168,
    ProcDomainUpdateDeviceFlags = 174,
    ProcDomainHasManagedSaveImage = 183,
    ProcDomainCreateWithFlags = 196,
    ProcDomainIsUpdated = 202,
    ProcDomainGetState = 212,
    ProcDomainUndefineFlags = 231,
    ProcDomainDestroyFlags = 234,
    ProcDomainShutdownFlags = 258,
    ProcConnectListAllDomains = 273,
    ProcConnectListAllNetworks = 283,
    ProcConnectDomainEventCallbackRegisterAny = 316,
    ProcConnectDomainEventCallbackDeregisterAny = 317,
    ProcDomainEventCallbackLifecycle = 318,
    ProcDomainDefineXMLFlags = 350,
    ProcConnectRegisterCloseCallback = 360,
    ProcConnectUnregisterCloseCallback = 361,
};

// The public API function behind a procedure ("virDomainSuspend"), for
// libvirt's "this function is not supported by the connection driver: ..."
// and "read only access prevents ..." messages; nullptr when unknown.
const char *procedureApiName(uint32_t proc);

using Uuid = std::array<unsigned char, 16>;

// remote_nonnull_domain { string name; opaque uuid[16]; int id; }
struct WireDomain {
    std::string name;
    Uuid uuid{};
    int32_t id = -1;
};
void putDomain(rpc::XdrEncoder &enc, const WireDomain &d);
WireDomain getDomain(rpc::XdrDecoder &dec);

// remote_nonnull_network { string name; opaque uuid[16]; }
struct WireNetwork {
    std::string name;
    Uuid uuid{};
};
void putNetwork(rpc::XdrEncoder &enc, const WireNetwork &n);
WireNetwork getNetwork(rpc::XdrDecoder &dec);

Uuid getUuid(rpc::XdrDecoder &dec);
void putUuid(rpc::XdrEncoder &enc, const Uuid &uuid);

// rpcgen encodes a C `char` as a whole XDR int, so `char model[32]` is 32
// ints and `char x<N>` is a count followed by one int per character.
void putCharArrayFixed(rpc::XdrEncoder &enc, const std::string &s, size_t len);
void putCharArrayVar(rpc::XdrEncoder &enc, const std::string &s, uint32_t max);

} // namespace vd::remote
