// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "remote/remote_protocol.h"

#include <algorithm>
#include <utility>

namespace vd::remote {

namespace {

// Procedures clients commonly call, with the public API that each serves.
// Sorted by number (checked in the test suite).
constexpr std::pair<uint32_t, const char *> apiNames[] = {
    {1, "virConnectOpen"},
    {2, "virConnectClose"},
    {3, "virConnectGetType"},
    {4, "virConnectGetVersion"},
    {5, "virConnectGetMaxVcpus"},
    {6, "virNodeGetInfo"},
    {7, "virConnectGetCapabilities"},
    {8, "virDomainAttachDevice"},
    {9, "virDomainCreate"},
    {10, "virDomainCreateXML"},
    {11, "virDomainDefineXML"},
    {12, "virDomainDestroy"},
    {13, "virDomainDetachDevice"},
    {14, "virDomainGetXMLDesc"},
    {15, "virDomainGetAutostart"},
    {16, "virDomainGetInfo"},
    {17, "virDomainGetMaxMemory"},
    {18, "virDomainGetMaxVcpus"},
    {19, "virDomainGetOSType"},
    {20, "virDomainGetVcpus"},
    {21, "virConnectListDefinedDomains"},
    {22, "virDomainLookupByID"},
    {23, "virDomainLookupByName"},
    {24, "virDomainLookupByUUID"},
    {25, "virConnectNumOfDefinedDomains"},
    {26, "virDomainPinVcpu"},
    {27, "virDomainReboot"},
    {28, "virDomainResume"},
    {29, "virDomainSetAutostart"},
    {30, "virDomainSetMaxMemory"},
    {31, "virDomainSetMemory"},
    {32, "virDomainSetVcpus"},
    {33, "virDomainShutdown"},
    {34, "virDomainSuspend"},
    {35, "virDomainUndefine"},
    {36, "virConnectListDefinedNetworks"},
    {37, "virConnectListDomains"},
    {38, "virConnectListNetworks"},
    {39, "virNetworkCreate"},
    {40, "virNetworkCreateXML"},
    {41, "virNetworkDefineXML"},
    {42, "virNetworkDestroy"},
    {43, "virNetworkGetXMLDesc"},
    {44, "virNetworkGetAutostart"},
    {45, "virNetworkGetBridgeName"},
    {46, "virNetworkLookupByName"},
    {47, "virNetworkLookupByUUID"},
    {48, "virNetworkSetAutostart"},
    {49, "virNetworkUndefine"},
    {50, "virConnectNumOfDefinedNetworks"},
    {51, "virConnectNumOfDomains"},
    {52, "virConnectNumOfNetworks"},
    {53, "virDomainCoreDump"},
    {54, "virDomainRestore"},
    {55, "virDomainSave"},
    {56, "virDomainGetSchedulerType"},
    {57, "virDomainGetSchedulerParameters"},
    {58, "virDomainSetSchedulerParameters"},
    {59, "virConnectGetHostname"},
    {60, "virConnectSupportsFeature"},
    {64, "virDomainBlockStats"},
    {65, "virDomainInterfaceStats"},
    {71, "virConnectNumOfStoragePools"},
    {72, "virConnectListStoragePools"},
    {73, "virConnectNumOfDefinedStoragePools"},
    {74, "virConnectListDefinedStoragePools"},
    {84, "virStoragePoolLookupByName"},
    {85, "virStoragePoolLookupByUUID"},
    {97, "virStorageVolLookupByPath"},
    {101, "virNodeGetCellsFreeMemory"},
    {102, "virNodeGetFreeMemory"},
    {105, "virConnectDomainEventRegister"},
    {106, "virConnectDomainEventDeregister"},
    {110, "virConnectGetURI"},
    {111, "virNodeNumOfDevices"},
    {112, "virNodeListDevices"},
    {113, "virNodeDeviceLookupByName"},
    {121, "virDomainGetSecurityLabel"},
    {122, "virNodeGetSecurityModel"},
    {126, "virConnectNumOfInterfaces"},
    {127, "virConnectListInterfaces"},
    {128, "virInterfaceLookupByName"},
    {135, "virConnectDomainXMLFromNative"},
    {136, "virConnectDomainXMLToNative"},
    {139, "virConnectNumOfSecrets"},
    {140, "virConnectListSecrets"},
    {149, "virConnectIsSecure"},
    {150, "virDomainIsActive"},
    {151, "virDomainIsPersistent"},
    {152, "virNetworkIsActive"},
    {153, "virNetworkIsPersistent"},
    {157, "virConnectGetLibVersion"},
    {158, "virConnectCompareCPU"},
    {159, "virDomainMemoryStats"},
    {160, "virDomainAttachDeviceFlags"},
    {161, "virDomainDetachDeviceFlags"},
    {162, "virConnectBaselineCPU"},
    {163, "virDomainGetJobInfo"},
    {164, "virDomainAbortJob"},
    {167, "virConnectDomainEventRegisterAny"},
    {168, "virConnectDomainEventDeregisterAny"},
    {174, "virDomainUpdateDeviceFlags"},
    {182, "virDomainManagedSave"},
    {183, "virDomainHasManagedSaveImage"},
    {184, "virDomainManagedSaveRemove"},
    {185, "virDomainSnapshotCreateXML"},
    {186, "virDomainSnapshotGetXMLDesc"},
    {187, "virDomainSnapshotNum"},
    {188, "virDomainSnapshotListNames"},
    {189, "virDomainSnapshotLookupByName"},
    {190, "virDomainHasCurrentSnapshot"},
    {191, "virDomainSnapshotCurrent"},
    {192, "virDomainRevertToSnapshot"},
    {193, "virDomainSnapshotDelete"},
    {194, "virDomainGetBlockInfo"},
    {196, "virDomainCreateWithFlags"},
    {197, "virDomainSetMemoryParameters"},
    {198, "virDomainGetMemoryParameters"},
    {199, "virDomainSetVcpusFlags"},
    {200, "virDomainGetVcpusFlags"},
    {201, "virDomainOpenConsole"},
    {202, "virDomainIsUpdated"},
    {203, "virConnectGetSysinfo"},
    {204, "virDomainSetMemoryFlags"},
    {205, "virDomainSetBlkioParameters"},
    {206, "virDomainGetBlkioParameters"},
    {210, "virDomainInjectNMI"},
    {211, "virDomainScreenshot"},
    {212, "virDomainGetState"},
    {219, "virDomainSetSchedulerParametersFlags"},
    {223, "virDomainGetSchedulerParametersFlags"},
    {226, "virDomainSendKey"},
    {227, "virNodeGetCPUStats"},
    {228, "virNodeGetMemoryStats"},
    {229, "virDomainGetControlInfo"},
    {230, "virDomainGetVcpuPinInfo"},
    {231, "virDomainUndefineFlags"},
    {232, "virDomainSaveFlags"},
    {233, "virDomainRestoreFlags"},
    {234, "virDomainDestroyFlags"},
    {235, "virDomainSaveImageGetXMLDesc"},
    {237, "virDomainBlockJobAbort"},
    {238, "virDomainGetBlockJobInfo"},
    {240, "virDomainBlockPull"},
    {243, "virDomainBlockStatsFlags"},
    {245, "virDomainReset"},
    {251, "virDomainBlockResize"},
    {252, "virDomainSetBlockIoTune"},
    {253, "virDomainGetBlockIoTune"},
    {254, "virDomainSetNumaParameters"},
    {255, "virDomainGetNumaParameters"},
    {256, "virDomainSetInterfaceParameters"},
    {257, "virDomainGetInterfaceParameters"},
    {258, "virDomainShutdownFlags"},
    {261, "virDomainPMSuspendForDuration"},
    {262, "virDomainGetCPUStats"},
    {263, "virDomainGetDiskErrors"},
    {264, "virDomainSetMetadata"},
    {265, "virDomainGetMetadata"},
    {266, "virDomainBlockRebase"},
    {267, "virDomainPMWakeup"},
    {273, "virConnectListAllDomains"},
    {274, "virDomainListAllSnapshots"},
    {277, "virDomainGetHostname"},
    {278, "virDomainGetSecurityLabelList"},
    {280, "virDomainGetEmulatorPinInfo"},
    {281, "virConnectListAllStoragePools"},
    {282, "virStoragePoolListAllVolumes"},
    {283, "virConnectListAllNetworks"},
    {284, "virConnectListAllInterfaces"},
    {285, "virConnectListAllNodeDevices"},
    {286, "virConnectListAllNWFilters"},
    {287, "virConnectListAllSecrets"},
    {290, "virDomainBlockCommit"},
    {291, "virNetworkUpdate"},
    {293, "virNodeGetCPUMap"},
    {294, "virDomainFSTrim"},
    {296, "virDomainOpenChannel"},
    {298, "virDomainGetJobStats"},
    {302, "virDomainMigrateBegin3Params"},
    {305, "virDomainMigratePerform3Params"},
    {312, "virConnectGetCPUModelNames"},
    {313, "virConnectNetworkEventRegisterAny"},
    {314, "virConnectNetworkEventDeregisterAny"},
    {316, "virConnectDomainEventRegisterAny"},
    {317, "virConnectDomainEventDeregisterAny"},
    {335, "virDomainFSFreeze"},
    {336, "virDomainFSThaw"},
    {337, "virDomainGetTime"},
    {338, "virDomainSetTime"},
    {340, "virNodeGetFreePages"},
    {341, "virNetworkGetDHCPLeases"},
    {342, "virConnectGetDomainCapabilities"},
    {344, "virConnectGetAllDomainStats"},
    {345, "virDomainBlockCopy"},
    {349, "virDomainGetFSInfo"},
    {350, "virDomainDefineXMLFlags"},
    {351, "virDomainGetIOThreadInfo"},
    {353, "virDomainInterfaceAddresses"},
    {357, "virDomainSetUserPassword"},
    {358, "virDomainRename"},
    {360, "virConnectRegisterCloseCallback"},
    {361, "virConnectUnregisterCloseCallback"},
    {365, "virDomainGetPerfEvents"},
    {368, "virConnectStoragePoolEventRegisterAny"},
    {371, "virDomainGetGuestVcpus"},
    {374, "virConnectNodeDeviceEventRegisterAny"},
};

} // namespace

const char *procedureApiName(uint32_t proc)
{
    auto it = std::lower_bound(std::begin(apiNames), std::end(apiNames), proc,
                               [](const auto &e, uint32_t p) { return e.first < p; });
    if (it == std::end(apiNames) || it->first != proc)
        return nullptr;
    return it->second;
}

void putUuid(rpc::XdrEncoder &enc, const Uuid &uuid)
{
    enc.putFixedOpaque(std::string_view(reinterpret_cast<const char *>(uuid.data()), uuid.size()));
}

Uuid getUuid(rpc::XdrDecoder &dec)
{
    std::string raw = dec.getFixedOpaque(16);
    Uuid uuid{};
    std::copy(raw.begin(), raw.end(), uuid.begin());
    return uuid;
}

void putDomain(rpc::XdrEncoder &enc, const WireDomain &d)
{
    enc.putString(d.name, RemoteStringMax);
    putUuid(enc, d.uuid);
    enc.putI32(d.id);
}

WireDomain getDomain(rpc::XdrDecoder &dec)
{
    WireDomain d;
    d.name = dec.getString(RemoteStringMax);
    d.uuid = getUuid(dec);
    d.id = dec.getI32();
    return d;
}

void putNetwork(rpc::XdrEncoder &enc, const WireNetwork &n)
{
    enc.putString(n.name, RemoteStringMax);
    putUuid(enc, n.uuid);
}

WireNetwork getNetwork(rpc::XdrDecoder &dec)
{
    WireNetwork n;
    n.name = dec.getString(RemoteStringMax);
    n.uuid = getUuid(dec);
    return n;
}

void putCharArrayFixed(rpc::XdrEncoder &enc, const std::string &s, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        enc.putI32(i < s.size() ? static_cast<signed char>(s[i]) : 0);
}

void putCharArrayVar(rpc::XdrEncoder &enc, const std::string &s, uint32_t max)
{
    size_t n = std::min<size_t>(s.size(), max);
    enc.putU32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i)
        enc.putI32(static_cast<signed char>(s[i]));
}

} // namespace vd::remote
