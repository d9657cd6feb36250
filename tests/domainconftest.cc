// Unit tests of the domain XML API: error codes, defaults, MAC assignment,
// name rules.
#include <config.h>

#include "conf/domain_schema.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "testutils.h"
#include "util/virerror.h"

using namespace vd::conf;

namespace {

const char *minimalDomain = R"(<domain type='kvm'>
  <name>t</name>
  <memory>1024</memory>
  <os><type>hvm</type></os>
  <devices>
    <interface type='direct'>
      <source dev='eth0'/>
    </interface>
    <interface type='direct'>
      <source dev='eth1' mode='bridge'/>
    </interface>
  </devices>
</domain>
)";

std::string withInterface(const std::string &iface)
{
    return "<domain type='qemu'><name>t</name><memory>1024</memory><os><type>hvm</type></os>"
           "<devices>" + iface + "</devices></domain>";
}

// Runs the define pipeline and returns the error, or "" on success.
std::pair<virErrorNumber, std::string> defineError(const std::string &xml)
{
    try {
        auto def = parseAndValidateDomainXML(xml, PARSE_INACTIVE, true);
        return {VIR_ERR_OK, ""};
    } catch (const vd::Error &e) {
        return {e.code(), e.what()};
    }
}

class DomainConfTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DomainConfTest);
    CPPUNIT_TEST(testDefaults);
    CPPUNIT_TEST(testUuidGenerated);
    CPPUNIT_TEST(testErrorCodes);
    CPPUNIT_TEST(testBadMode);
    CPPUNIT_TEST(testAssignMacs);
    CPPUNIT_TEST(testAssignMacsExhaustedAvoidsInUse);
    CPPUNIT_TEST(testAutoIfname);
    CPPUNIT_TEST(testDeviceNames);
    CPPUNIT_TEST(testStatusIfindex);
    CPPUNIT_TEST(testSchemaDir);
    CPPUNIT_TEST_SUITE_END();

public:
    void testDefaults()
    {
        auto def = parseDomainXML(minimalDomain, PARSE_INACTIVE);
        CPPUNIT_ASSERT(def->virtType == VirtType::Kvm);
        CPPUNIT_ASSERT_EQUAL(1024ULL, def->memoryKiB);
        CPPUNIT_ASSERT_EQUAL(1024ULL, def->currentMemoryKiB);
        CPPUNIT_ASSERT_EQUAL(1u, def->vcpus);
        CPPUNIT_ASSERT_EQUAL(std::string("x86_64"), def->os.arch);
        CPPUNIT_ASSERT_EQUAL(std::string("pc"), def->os.machine);
        CPPUNIT_ASSERT_EQUAL(size_t(1), def->os.bootDevs.size());
        CPPUNIT_ASSERT_EQUAL(size_t(1), def->controllers.size());
        CPPUNIT_ASSERT(def->controllers[0].model == ControllerDef::Model::PciRoot);
        CPPUNIT_ASSERT_EQUAL(size_t(2), def->nets.size());
        CPPUNIT_ASSERT(def->nets[0].mode == MacvlanMode::Vepa);
        CPPUNIT_ASSERT(def->nets[1].mode == MacvlanMode::Bridge);
        CPPUNIT_ASSERT(def->nets[0].mac.isZero());
    }

    void testUuidGenerated()
    {
        auto a = parseDomainXML(minimalDomain, PARSE_INACTIVE);
        auto b = parseDomainXML(minimalDomain, PARSE_INACTIVE);
        CPPUNIT_ASSERT(a->uuid != b->uuid);
        CPPUNIT_ASSERT(a->uuid != (std::array<unsigned char, 16>{}));
        // The generated uuid is kept on a round trip.
        auto again = parseDomainXML(formatDomainXML(*a, FORMAT_INACTIVE), PARSE_INACTIVE);
        CPPUNIT_ASSERT(a->uuid == again->uuid);
    }

    void testErrorCodes()
    {
        auto malformed = defineError("<domain type='kvm'><name>t</name>");
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_XML_DETAIL, malformed.first);
        CPPUNIT_ASSERT(malformed.second.find("(domain_definition):1:") == 0);

        auto network = defineError(withInterface(
            "<interface type='network'><source network='default'/></interface>"));
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_CONFIG_UNSUPPORTED, network.first);
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: interface type 'network' "
                                         "is not supported, only 'direct'"),
                             network.second);

        auto unknown = defineError(withInterface(
            "<interface type='direct'><source dev='eth0'/><bandwidth/></interface>"));
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_CONFIG_UNSUPPORTED, unknown.first);
        CPPUNIT_ASSERT(unknown.second.find("'bandwidth'") != std::string::npos);

        auto dupMac = defineError(withInterface(
            "<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='a'/></interface>"
            "<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='b'/></interface>"));
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_XML_ERROR, dupMac.first);

        auto ok = defineError(minimalDomain);
        CPPUNIT_ASSERT_EQUAL(std::string(), ok.second);
    }

    void testBadMode()
    {
        auto e = defineError(withInterface(
            "<interface type='direct'><source dev='eth0' mode='bogus'/></interface>"));
        CPPUNIT_ASSERT_EQUAL(VIR_ERR_XML_ERROR, e.first);
        CPPUNIT_ASSERT_EQUAL(std::string("XML error: Invalid value for attribute 'mode' in "
                                         "element 'source': 'bogus'."),
                             e.second);
    }

    void testAssignMacs()
    {
        auto def = parseDomainXML(minimalDomain, PARSE_INACTIVE);
        auto existing = vd::MacAddr::parse("52:54:00:aa:bb:cc").value();
        assignMacAddresses(*def, {existing});
        CPPUNIT_ASSERT(!def->nets[0].mac.isZero());
        CPPUNIT_ASSERT(!(def->nets[0].mac == def->nets[1].mac));
        for (auto &n : def->nets) {
            CPPUNIT_ASSERT(n.macGenerated);
            CPPUNIT_ASSERT_EQUAL(0x52, int(n.mac.bytes[0]));
            CPPUNIT_ASSERT_EQUAL(0x54, int(n.mac.bytes[1]));
            CPPUNIT_ASSERT_EQUAL(0x00, int(n.mac.bytes[2]));
            CPPUNIT_ASSERT(!(n.mac == existing));
        }
        validateDomainDef(*def);
        CPPUNIT_ASSERT_EQUAL(size_t(2), collectMacAddresses(*def).size());
        CPPUNIT_ASSERT(collectMacAddresses(*def).count(def->nets[1].mac));
        // Already set addresses stay.
        auto before = def->nets[0].mac;
        assignMacAddresses(*def, {});
        CPPUNIT_ASSERT(before == def->nets[0].mac);
    }

    void testAssignMacsExhaustedAvoidsInUse()
    {
        // Many interfaces in one domain all get distinct addresses.
        std::string ifaces;
        for (int i = 0; i < 300; ++i)
            ifaces += "<interface type='direct'><source dev='eth0' mode='bridge'/></interface>";
        auto def = parseDomainXML(withInterface(ifaces), PARSE_INACTIVE);
        assignMacAddresses(*def, {});
        std::set<vd::MacAddr> seen;
        for (auto &n : def->nets)
            seen.insert(n.mac);
        CPPUNIT_ASSERT_EQUAL(size_t(300), seen.size());
        validateDomainDef(*def);
    }

    void testAutoIfname()
    {
        CPPUNIT_ASSERT(isAutoGeneratedIfname("macvtap0"));
        CPPUNIT_ASSERT(isAutoGeneratedIfname("macvlan12"));
        CPPUNIT_ASSERT(!isAutoGeneratedIfname("mytap0"));
        CPPUNIT_ASSERT(!isAutoGeneratedIfname("vnet0"));
        auto xml = withInterface("<interface type='direct'><source dev='eth0'/>"
                                 "<target dev='macvtap7'/></interface>"
                                 "<interface type='direct'><source dev='eth0'/>"
                                 "<target dev='guest0'/></interface>");
        auto inactive = parseDomainXML(xml, PARSE_INACTIVE);
        CPPUNIT_ASSERT_EQUAL(std::string(), inactive->nets[0].ifname);
        CPPUNIT_ASSERT_EQUAL(std::string("guest0"), inactive->nets[1].ifname);
        auto live = parseDomainXML(xml, PARSE_LIVE);
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap7"), live->nets[0].ifname);
        std::string liveXml = formatDomainXML(*live, 0);
        CPPUNIT_ASSERT(liveXml.find("<target dev='macvtap7'/>") != std::string::npos);
        std::string inactiveXml = formatDomainXML(*live, FORMAT_INACTIVE);
        CPPUNIT_ASSERT(inactiveXml.find("macvtap7") == std::string::npos);
        CPPUNIT_ASSERT(inactiveXml.find("<target dev='guest0'/>") != std::string::npos);
    }

    void testDeviceNames()
    {
        for (const char *good : {"eth0", "veth-a.1", "tap%d", "a", "abcdefghijklmno"})
            checkDeviceName(good, "target dev");
        for (const char *bad : {"", "abcdefghijklmnop", "a/b", "a b", "a,b", "a%s", "a%d%d",
                                "%", "a\tb", ".", ".."}) {
            try {
                checkDeviceName(bad, "target dev");
                CPPUNIT_FAIL(std::string("accepted bad name '") + bad + "'");
            } catch (const vd::Error &e) {
                CPPUNIT_ASSERT_EQUAL(VIR_ERR_XML_ERROR, e.code());
                CPPUNIT_ASSERT(std::string(e.what()).find("target dev") != std::string::npos);
            }
        }
    }

    void testStatusIfindex()
    {
        auto live = parseDomainXML(withInterface("<interface type='direct'><source dev='eth0'/>"
                                                 "<target dev='macvtap1' ifindex='42'/>"
                                                 "</interface>"),
                                   PARSE_LIVE);
        CPPUNIT_ASSERT_EQUAL(42, live->nets[0].ifindex);
        std::string status = formatDomainXML(*live, FORMAT_STATUS);
        CPPUNIT_ASSERT(status.find("<target dev='macvtap1' ifindex='42'/>") != std::string::npos);
        CPPUNIT_ASSERT(formatDomainXML(*live, 0).find("ifindex") == std::string::npos);
        // Outside status XML, ifindex is not something users may set.
        try {
            parseDomainXML(status, PARSE_INACTIVE);
            CPPUNIT_FAIL("ifindex accepted in an inactive definition");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(VIR_ERR_CONFIG_UNSUPPORTED, e.code());
        }
    }

    void testSchemaDir()
    {
        // `make check` points VD_SCHEMADIR at the source tree.
        CPPUNIT_ASSERT(!domainSchemaDir().empty());
        validateDomainSchema(minimalDomain);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DomainConfTest);

} // namespace
