// SPDX-License-Identifier: LGPL-2.1-or-later
// The driver API called directly, as every front end calls it: lookups,
// identity rules, flags, errors (code, domain and libvirt's wording), and
// concurrency — threads of one process and separate processes.  The
// life-cycle part runs real guests (no OS) in a private network namespace.
#include <config.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_driver.h"
#include "testcommand.h"
#include "testnetns.h"
#include "testutils.h"
#include "util/virerror.h"

namespace {

using vd::qemu::DomainInfo;
using vd::qemu::Driver;

const char *const uuidA = "6a3e1cf0-0a8e-4c36-9a43-1d7e40000001";
const char *const uuidB = "6a3e1cf0-0a8e-4c36-9a43-1d7e40000002";

// A minimal domain; `uuid` empty = none in the XML.
std::string domainXML(const std::string &name, const std::string &uuid = "",
                      const std::string &source = "veth0",
                      const std::string &mac = "52:54:00:12:34:56")
{
    std::string xml = "<domain type='qemu'>\n  <name>" + name + "</name>\n";
    if (!uuid.empty())
        xml += "  <uuid>" + uuid + "</uuid>\n";
    xml += "  <memory unit='MiB'>64</memory>\n  <currentMemory unit='MiB'>32</currentMemory>\n"
           "  <vcpu>2</vcpu>\n"
           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
           "  <devices>\n"
           "    <interface type='direct'>\n"
           "      <mac address='" + mac + "'/>\n"
           "      <source dev='" + source + "' mode='bridge'/>\n"
           "      <model type='virtio'/>\n"
           "    </interface>\n"
           "  </devices>\n</domain>\n";
    return xml;
}

// Run `f`, expecting a vd::Error with this code and (when not empty)
// exactly this message.
template <typename F>
void assertError(virErrorNumber code, const std::string &message, F &&f)
{
    try {
        f();
    } catch (const vd::Error &e) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(e.what(), static_cast<int>(code),
                                     static_cast<int>(e.code()));
        if (!message.empty())
            CPPUNIT_ASSERT_EQUAL(message, std::string(e.what()));
        return;
    }
    CPPUNIT_FAIL("no error raised, expected code " + std::to_string(code));
}

void requireEmulator()
{
    try {
        vd::qemu::findEmulator("", "x86_64");
    } catch (const vd::Error &) {
        vd::test::skip("no qemu-system-x86_64 found");
    }
}

class QemuDriverTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuDriverTest);
    CPPUNIT_TEST(testDefineLookupList);
    CPPUNIT_TEST(testUnknownDomain);
    CPPUNIT_TEST(testIdentity);
    CPPUNIT_TEST(testCreateRefusesOtherIdentity);
    CPPUNIT_TEST(testFlags);
    CPPUNIT_TEST(testUndefine);
    CPPUNIT_TEST(testInterfaces);
    CPPUNIT_TEST(testValidateAndNative);
    CPPUNIT_TEST(testParallelDefinesThreads);
    CPPUNIT_TEST(testParallelDefinesOneUuid);
    CPPUNIT_TEST(testParallelDefinesProcesses);
    CPPUNIT_TEST(testLifeCycle);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override
    {
        requireEmulator();
        root_ = std::make_unique<vd::test::TempDir>();
        driver_ = std::make_unique<Driver>(vd::Paths::forRoot(root_->path()));
    }
    void tearDown() override
    {
        driver_.reset();
        root_.reset();
    }

    void testDefineLookupList()
    {
        DomainInfo info = driver_->defineXML(domainXML("d1", uuidA));
        CPPUNIT_ASSERT_EQUAL(std::string("d1"), info.name);
        CPPUNIT_ASSERT_EQUAL(std::string(uuidA), vd::conf::uuidToString(info.uuid));
        CPPUNIT_ASSERT_EQUAL(-1, info.id);
        CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_DOMAIN_SHUTOFF), static_cast<int>(info.state));
        CPPUNIT_ASSERT_EQUAL(65536ull, info.maxMemoryKiB);
        CPPUNIT_ASSERT_EQUAL(32768ull, info.memoryKiB);
        CPPUNIT_ASSERT_EQUAL(2u, info.vcpus);
        CPPUNIT_ASSERT(info.persistent);
        CPPUNIT_ASSERT(!info.cpuTimeNs);

        CPPUNIT_ASSERT_EQUAL(std::string("d1"), driver_->lookupByName("d1").name);
        CPPUNIT_ASSERT_EQUAL(std::string("d1"), driver_->lookupByUUIDString(uuidA).name);
        driver_->defineXML(domainXML("d0", uuidB));

        auto all = driver_->listDomains();
        CPPUNIT_ASSERT_EQUAL(size_t(2), all.size());
        CPPUNIT_ASSERT_EQUAL(std::string("d0"), all[0].name);
        CPPUNIT_ASSERT_EQUAL(std::string("d1"), all[1].name);
        CPPUNIT_ASSERT(driver_->listDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE).empty());
        CPPUNIT_ASSERT(driver_->listDomains(VIR_CONNECT_LIST_DOMAINS_TRANSIENT).empty());
        CPPUNIT_ASSERT_EQUAL(size_t(2),
                             driver_->listDomains(VIR_CONNECT_LIST_DOMAINS_INACTIVE |
                                                  VIR_CONNECT_LIST_DOMAINS_PERSISTENT)
                                 .size());

        std::string xml = driver_->getXMLDesc("d1");
        CPPUNIT_ASSERT_MESSAGE(xml, xml.find(std::string("<uuid>") + uuidA) != std::string::npos);
        // PCI addresses are assigned at define time.
        CPPUNIT_ASSERT_MESSAGE(xml, xml.find("<address type='pci'") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(xml, driver_->getXMLDesc("d1", VIR_DOMAIN_XML_INACTIVE));
    }

    void testUnknownDomain()
    {
        for (std::string name : {"nosuch", "../nosuch", ".nosuch", ""}) {
            std::string msg = "Domain not found: no domain with matching name '" + name + "'";
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->lookupByName(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->getXMLDesc(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->undefine(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->start(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->destroy(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->shutdown(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->interfaces(name); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->setLink(name, "x", true); });
            assertError(VIR_ERR_NO_DOMAIN, msg, [&] { driver_->getLink(name, "x"); });
        }
        assertError(VIR_ERR_NO_DOMAIN,
                    std::string("Domain not found: no domain with matching uuid '") + uuidA + "'",
                    [&] { driver_->lookupByUUIDString(uuidA); });
        assertError(VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching id 7",
                    [&] { driver_->lookupByID(7); });
        assertError(VIR_ERR_INVALID_ARG, "", [&] { driver_->lookupByUUIDString("zzz"); });
        // Errors carry the QEMU driver's virterror domain.
        try {
            driver_->lookupByName("nosuch");
        } catch (const vd::Error &e) {
            CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_FROM_QEMU), static_cast<int>(e.domain()));
        }
    }

    // libvirt's virDomainObjListAdd rules, with its words.
    void testIdentity()
    {
        driver_->defineXML(domainXML("d1", uuidA));
        assertError(VIR_ERR_OPERATION_FAILED,
                    std::string("operation failed: domain 'd1' already exists with uuid ") + uuidA,
                    [&] { driver_->defineXML(domainXML("d1", uuidB)); });
        assertError(VIR_ERR_OPERATION_FAILED,
                    std::string("operation failed: domain 'd1' is already defined with uuid ") +
                        uuidA,
                    [&] { driver_->defineXML(domainXML("d2", uuidA)); });
        // Without <uuid>, a redefinition keeps the domain's identity.
        DomainInfo again = driver_->defineXML(domainXML("d1"));
        CPPUNIT_ASSERT_EQUAL(std::string(uuidA), vd::conf::uuidToString(again.uuid));
        CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->listDomains().size());
    }

    // Refused before anything is created, so no namespace is needed.
    void testCreateRefusesOtherIdentity()
    {
        driver_->defineXML(domainXML("d1", uuidA));
        assertError(VIR_ERR_OPERATION_FAILED,
                    std::string("operation failed: domain 'd1' already exists with uuid ") + uuidA,
                    [&] { driver_->createXML(domainXML("d1", uuidB)); });
        assertError(VIR_ERR_OPERATION_FAILED,
                    std::string("operation failed: domain 'd1' is already defined with uuid ") +
                        uuidA,
                    [&] { driver_->createXML(domainXML("other", uuidA)); });
        CPPUNIT_ASSERT(!std::filesystem::exists(root_->path() + "/run/qemu/other.xml"));
    }

    void testFlags()
    {
        driver_->defineXML(domainXML("d1", uuidA));
        assertError(VIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported flags (0x400) in function getXMLDesc",
                    [&] { driver_->getXMLDesc("d1", 1u << 10); });
        assertError(VIR_ERR_INVALID_ARG, "", [&] { driver_->listDomains(1u << 20); });
        assertError(VIR_ERR_INVALID_ARG, "", [&] { driver_->undefine("d1", 1); });
        assertError(VIR_ERR_INVALID_ARG, "", [&] { driver_->defineXML(domainXML("d1"), 2); });
        vd::qemu::StartParams params;
        params.flags = 1u << 10;
        assertError(VIR_ERR_INVALID_ARG, "", [&] { driver_->start("d1", params); });
        CPPUNIT_ASSERT(driver_->lookupByName("d1").persistent);
    }

    void testUndefine()
    {
        driver_->defineXML(domainXML("d1", uuidA));
        driver_->undefine("d1");
        assertError(VIR_ERR_NO_DOMAIN, "", [&] { driver_->lookupByName("d1"); });
        assertError(VIR_ERR_NO_DOMAIN, "", [&] { driver_->undefine("d1"); });
        CPPUNIT_ASSERT(driver_->listDomains().empty());
        // The lock file does not outlive the call.
        CPPUNIT_ASSERT(!std::filesystem::exists(root_->path() + "/run/qemu/d1.lock"));
    }

    void testInterfaces()
    {
        driver_->defineXML(domainXML("d1", uuidA));
        auto nics = driver_->interfaces("d1");
        CPPUNIT_ASSERT_EQUAL(size_t(1), nics.size());
        CPPUNIT_ASSERT_EQUAL(std::string("52:54:00:12:34:56"), nics[0].mac);
        CPPUNIT_ASSERT_EQUAL(std::string("veth0"), nics[0].source);
        CPPUNIT_ASSERT_EQUAL(std::string("virtio"), nics[0].model);
        CPPUNIT_ASSERT_EQUAL(std::string(""), nics[0].target);
        CPPUNIT_ASSERT(driver_->findInterface("d1", "52:54:00:12:34:56"));
        CPPUNIT_ASSERT(driver_->findInterface("d1", "52:54:00:12:34:56")->linkUp);
        CPPUNIT_ASSERT(!driver_->findInterface("d1", "macvtap0"));
        CPPUNIT_ASSERT(driver_->getLink("d1", "52:54:00:12:34:56"));
        assertError(VIR_ERR_INVALID_ARG, "invalid argument: interface (dev: nosuch) not found",
                    [&] { driver_->getLink("d1", "nosuch"); });
        // Not running: set_link has nobody to talk to.
        assertError(VIR_ERR_OPERATION_INVALID, "", [&] {
            driver_->setLink("d1", "52:54:00:12:34:56", false);
        });
    }

    void testValidateAndNative()
    {
        driver_->validateXML(domainXML("d1"));
        assertError(VIR_ERR_XML_ERROR, "", [&] {
            driver_->validateXML("<domain type='qemu'><name>x</name>"
                                 "<memory>1</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
                                 "<devices><interface type='direct'><source dev='a' "
                                 "mode='bogus'/></interface></devices></domain>");
        });
        assertError(VIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: Unsupported config type xen-xm",
                    [&] { driver_->toNative("xen-xm", domainXML("d1")); });
        std::string argv = driver_->toNative("qemu-argv", domainXML("d1"));
        CPPUNIT_ASSERT_MESSAGE(argv, argv.find("-name guest=d1") != std::string::npos);
        // Nothing was defined.
        CPPUNIT_ASSERT(driver_->listDomains().empty());
    }

    // Issue 9: ten concurrent defines of one name with different UUIDs,
    // from threads sharing one Driver: exactly one wins.
    void testParallelDefinesThreads()
    {
        const int n = 10;
        std::atomic<int> ok{0}, refused{0}, other{0};
        std::vector<std::string> uuids;
        for (int i = 0; i < n; ++i)
            uuids.push_back(vd::conf::uuidToString(vd::conf::generateUuid()));
        std::string winner;
        std::mutex winnerMutex;
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([&, i] {
                try {
                    driver_->defineXML(domainXML("race", uuids[i]));
                    ++ok;
                    std::lock_guard<std::mutex> g(winnerMutex);
                    winner = uuids[i];
                } catch (const vd::Error &e) {
                    (e.code() == VIR_ERR_OPERATION_FAILED ? refused : other)++;
                }
            });
        }
        for (auto &t : threads)
            t.join();
        CPPUNIT_ASSERT_EQUAL(1, ok.load());
        CPPUNIT_ASSERT_EQUAL(n - 1, refused.load());
        CPPUNIT_ASSERT_EQUAL(0, other.load());
        CPPUNIT_ASSERT_EQUAL(winner, vd::conf::uuidToString(driver_->lookupByName("race").uuid));
    }

    // Ten concurrent defines of different names with one UUID: one wins.
    void testParallelDefinesOneUuid()
    {
        const int n = 10;
        std::atomic<int> ok{0}, refused{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i)
            threads.emplace_back([&, i] {
                try {
                    driver_->defineXML(domainXML("d" + std::to_string(i), uuidA));
                    ++ok;
                } catch (const vd::Error &e) {
                    if (e.code() == VIR_ERR_OPERATION_FAILED)
                        ++refused;
                }
            });
        for (auto &t : threads)
            t.join();
        CPPUNIT_ASSERT_EQUAL(1, ok.load());
        CPPUNIT_ASSERT_EQUAL(n - 1, refused.load());
        CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->listDomains().size());
        CPPUNIT_ASSERT(!std::filesystem::exists(root_->path() + "/run/qemu/.identity.lock"));
    }

    // The same with ten virt-direct processes.
    void testParallelDefinesProcesses()
    {
        const int n = 10;
        std::vector<std::string> files;
        for (int i = 0; i < n; ++i) {
            files.push_back(root_->path() + "/race" + std::to_string(i) + ".xml");
            std::ofstream(files.back())
                << domainXML("race", vd::conf::uuidToString(vd::conf::generateUuid()));
        }
        std::vector<vd::test::RunResult> results(n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i)
            threads.emplace_back([&, i] {
                results[i] = vd::test::runVirtDirect("", root_->path(), {"define", files[i]});
            });
        for (auto &t : threads)
            t.join();
        int ok = 0;
        for (const auto &r : results) {
            if (r.status == 0) {
                ++ok;
                continue;
            }
            CPPUNIT_ASSERT_MESSAGE(r.err, r.err.find("already exists with uuid") !=
                                              std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(1, ok);
        CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->listDomains().size());
    }

    // start / create / lookups of running domains / set-link / destroy, with
    // real QEMU and macvtaps in a private namespace.
    void testLifeCycle()
    {
        if (!vd::test::isRoot())
            vd::test::skip("needs root for network namespaces");
        vd::test::TestNetns ns;
        std::string root = root_->path();
        ns.run([root] {
            vd::qemu::DriverOptions opts;
            opts.supervisorProgram = vd::test::buildDir() + "/tools/virt-direct";
            Driver driver(vd::Paths::forRoot(root), opts);
            checkLifeCycle(driver);
        });
        for (const char *file : {"d1.state.json", "t1.state.json", "d1.lock", "t1.lock"})
            CPPUNIT_ASSERT_MESSAGE(file, !std::filesystem::exists(root + "/run/qemu/" + file));
    }

private:
    static void checkLifeCycle(Driver &driver)
    {
        const std::string parent = vd::test::TestNetns::parent();
        driver.defineXML(domainXML("d1", uuidA, parent));
        DomainInfo info = driver.start("d1");
        CPPUNIT_ASSERT(info.active());
        CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_DOMAIN_RUNNING), static_cast<int>(info.state));
        CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_DOMAIN_RUNNING_BOOTED), info.reason);
        DomainInfo byId = driver.lookupByID(info.id);
        CPPUNIT_ASSERT_EQUAL(std::string("d1"), byId.name);
        CPPUNIT_ASSERT(byId.cpuTimeNs.has_value());
        CPPUNIT_ASSERT(byId.persistent);
        CPPUNIT_ASSERT_EQUAL(size_t(1),
                             driver.listDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE).size());
        assertError(VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain is already running",
                    [&] { driver.start("d1"); });

        // Live XML names the macvtap; the inactive one does not.
        std::string live = driver.getXMLDesc("d1");
        CPPUNIT_ASSERT_MESSAGE(live, live.find("<target dev='macvtap") != std::string::npos);
        std::string inactive = driver.getXMLDesc("d1", VIR_DOMAIN_XML_INACTIVE);
        CPPUNIT_ASSERT_MESSAGE(inactive, inactive.find("macvtap") == std::string::npos);
        std::string target = driver.interfaces("d1").at(0).target;
        CPPUNIT_ASSERT(driver.getLink("d1", target));
        driver.setLink("d1", target, false);
        CPPUNIT_ASSERT(!driver.getLink("d1", "52:54:00:12:34:56"));

        // A transient domain: running, not persistent, cannot be undefined.
        DomainInfo t = driver.createXML(domainXML("t1", uuidB, parent, "52:54:00:12:34:57"));
        CPPUNIT_ASSERT(t.active());
        CPPUNIT_ASSERT(!driver.lookupByName("t1").persistent);
        CPPUNIT_ASSERT_EQUAL(size_t(1),
                             driver.listDomains(VIR_CONNECT_LIST_DOMAINS_TRANSIENT).size());
        assertError(VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: cannot undefine transient domain",
                    [&] { driver.undefine("t1"); });
        // A defined domain's name with the transient's UUID is refused.
        assertError(VIR_ERR_OPERATION_FAILED, "", [&] { driver.defineXML(domainXML("x", uuidB)); });

        driver.destroy("t1");
        assertError(VIR_ERR_NO_DOMAIN, "", [&] { driver.lookupByName("t1"); });
        driver.destroy("d1");
        CPPUNIT_ASSERT(!driver.lookupByName("d1").active());
        assertError(VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain is not running",
                    [&] { driver.destroy("d1"); });
    }

    std::unique_ptr<vd::test::TempDir> root_;
    std::unique_ptr<Driver> driver_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuDriverTest);

} // namespace
