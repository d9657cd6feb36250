// The QEMU command line: unit tests on definitions built in code, the
// data-driven qemuxml2argv suite (tests/qemuxml2argvdata/NAME.xml ->
// NAME.<caps>.args / .err), and checks that a real QEMU accepts what we
// generate.
#include <config.h>

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "qemu/qemu_alias.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain_address.h"
#include "qemu/qemu_driver.h"
#include "qemu/qemu_validate.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virjson.h"

#if __has_include("conf/domain_xml.h")
#include "conf/domain_xml.h"
#define VD_HAVE_DOMAIN_XML 1
#endif

using namespace vd;
using namespace vd::qemu;
using vd::conf::DomainDef;
using vd::conf::NetDef;

namespace {

// The emulator the golden files name; runs against the host's QEMU use
// test::hostQemu() instead.
const char *const fixtureEmulator = "/usr/bin/qemu-system-x86_64";

QemuCaps fixtureCaps(const std::string &version)
{
    return QemuCaps::fromFile(test::srcDir() + "/qemucapabilitiesdata/qemu_" + version +
                              ".x86_64.xml");
}

DomainDef baseDomain(const std::string &name = "guest")
{
    DomainDef def;
    def.name = name;
    def.uuid = *conf::uuidFromString("c7a5fdbd-edaf-9455-926a-d65c16db1809");
    def.memoryKiB = 262144;
    def.vcpus = 1;
    def.os.arch = "x86_64";
    def.os.machine = "pc";
    def.emulator = fixtureEmulator;
    return def;
}

NetDef directNic(unsigned n, const std::string &model = "virtio")
{
    NetDef net;
    net.mac = *MacAddr::parse(strprintf("52:54:00:%02x:%02x:%02x", (n >> 16) & 0xff,
                                        (n >> 8) & 0xff, n & 0xff));
    net.sourceDev = "eth0";
    net.mode = MacvlanMode::Bridge;
    net.model = model;
    return net;
}

CommandOptions testOptions()
{
    CommandOptions o;
    o.qmpSocketPath = "/run/virt-direct/qemu/guest.qmp";
    return o;
}

std::vector<std::string> build(DomainDef &def, const QemuCaps &caps, bool vhost = false)
{
    auto plans = planNetFds(def, caps, vhost);
    return buildCommandLine(def, caps, plans, testOptions());
}

bool hasArgPair(const std::vector<std::string> &argv, const std::string &opt,
                const std::string &value)
{
    for (size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == opt && argv[i + 1] == value)
            return true;
    return false;
}

std::string errorOf(const std::function<void()> &f)
{
    try {
        f();
    } catch (const vd::Error &e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

class QemuCommandTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuCommandTest);
    CPPUNIT_TEST(testFdPlan);
    CPPUNIT_TEST(testFdPlanVhost);
    CPPUNIT_TEST(testVhostUnavailable);
    CPPUNIT_TEST(testNetdevJson);
    CPPUNIT_TEST(testNetdevKeyval);
    CPPUNIT_TEST(testLegacyNet);
    CPPUNIT_TEST(testNeverVhostWithoutFd);
    CPPUNIT_TEST(testEscaping);
    CPPUNIT_TEST(testRefusals);
    CPPUNIT_TEST(testShellQuote);
    CPPUNIT_TEST(testAddresses82);
    CPPUNIT_TEST(testAddresses250);
    CPPUNIT_TEST(testAddressesStable);
    CPPUNIT_TEST(testAliases);
    CPPUNIT_TEST(testKvmFallback);
    CPPUNIT_TEST(testPlanMismatch);
    CPPUNIT_TEST(testCapsRoundTrip);
    CPPUNIT_TEST(testBehindHub);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFdPlan()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.push_back(directNic(2));
        def.nets.back().queues = 3;
        def.nets.push_back(directNic(3, "e1000"));
        auto plans = planNetFds(def, false);
        CPPUNIT_ASSERT_EQUAL(size_t(3), plans.size());
        CPPUNIT_ASSERT((plans[0] == NetFdPlan{{3}, {}}));
        CPPUNIT_ASSERT((plans[1] == NetFdPlan{{4, 5, 6}, {}}));
        CPPUNIT_ASSERT((plans[2] == NetFdPlan{{7}, {}}));
        auto from10 = planNetFds(def, false, 10);
        CPPUNIT_ASSERT((from10[2] == NetFdPlan{{14}, {}}));
        CPPUNIT_ASSERT_EQUAL(8, planFdCeiling(plans));
        CPPUNIT_ASSERT_EQUAL(3, planFdCeiling({}));
    }

    void testFdPlanVhost()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().queues = 2;
        def.nets.push_back(directNic(2, "e1000")); // never vhost
        def.nets.push_back(directNic(3));
        def.nets.back().driverName = NetDef::DriverName::Qemu; // refuses vhost
        auto plans = planNetFds(def, true);
        CPPUNIT_ASSERT((plans[0] == NetFdPlan{{3, 4}, {5, 6}}));
        CPPUNIT_ASSERT((plans[1] == NetFdPlan{{7}, {}}));
        CPPUNIT_ASSERT((plans[2] == NetFdPlan{{8}, {}}));
        // An emulator without vhost support gets no vhost fds at all.
        QemuCaps legacy = fixtureCaps("0.11.0");
        auto plain = planNetFds(def, legacy, true);
        CPPUNIT_ASSERT((plain[0] == NetFdPlan{{3, 4}, {}}));
    }

    void testVhostUnavailable()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().driverName = NetDef::DriverName::Vhost;
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: vhost-net was requested "
                                         "for an interface, but is unavailable"),
                             errorOf([&] { planNetFds(def, false); }));
        def.nets.back().model = "e1000";
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: vhost-net is only "
                                         "supported for virtio network interfaces"),
                             errorOf([&] { planNetFds(def, true); }));
    }

    void testNetdevJson()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().queues = 2;
        def.nets.back().mtu = 9000;
        auto plans = planNetFds(def, true);
        auto argv = buildCommandLine(def, fixtureCaps("7.2.0"), plans, testOptions());
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev",
                                  R"({"type":"tap","fds":"3:4","vhost":true,)"
                                  R"("vhostfds":"5:6","id":"hostnet0"})"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-device",
                                  "virtio-net-pci,mq=on,vectors=6,host_mtu=9000,netdev=hostnet0,"
                                  "id=net0,mac=52:54:00:00:00:01,bus=pci.0,addr=0x2"));
    }

    void testNetdevKeyval()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        auto argv = build(def, fixtureCaps("4.2.0"), true);
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev", "tap,fd=3,vhost=on,vhostfd=4,id=hostnet0"));
    }

    void testLegacyNet()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.push_back(directNic(2, "e1000"));
        auto argv = build(def, fixtureCaps("0.11.0"));
        // Each NIC on its own vlan: guests' NICs never share a hub.
        CPPUNIT_ASSERT(hasArgPair(argv, "-net",
                                  "nic,macaddr=52:54:00:00:00:01,vlan=0,name=net0,model=virtio,"
                                  "addr=0x2"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-net", "tap,fd=3,vlan=0,name=hostnet0"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-net", "tap,fd=4,vlan=1,name=hostnet1"));
        def.nets[0].queues = 2;
        CPPUNIT_ASSERT(errorOf([&] { build(def, fixtureCaps("0.11.0")); })
                           .find("multiqueue needs an emulator with -netdev") !=
                       std::string::npos);
    }

    void testNeverVhostWithoutFd()
    {
        // Whatever the definition says, "vhost" only appears next to a vhostfd.
        for (auto caps : {"7.2.0", "4.2.0"}) {
            for (bool avail : {false, true}) {
                DomainDef def = baseDomain();
                def.nets.push_back(directNic(1));
                def.nets.push_back(directNic(2));
                def.nets.back().queues = 3;
                def.nets.push_back(directNic(3, "rtl8139"));
                auto argv = build(def, fixtureCaps(caps), avail);
                for (const auto &a : argv) {
                    bool vhostOn = a.find("vhost=on") != std::string::npos ||
                                   a.find("\"vhost\":true") != std::string::npos;
                    bool fd = a.find("vhostfd") != std::string::npos;
                    CPPUNIT_ASSERT_EQUAL(vhostOn, fd);
                    if (!avail)
                        CPPUNIT_ASSERT(!vhostOn);
                }
            }
        }
    }

    void testEscaping()
    {
        DomainDef def = baseDomain("a,b=c");
        conf::DiskDef disk;
        disk.source = "/img/x,file=/etc/shadow";
        disk.targetDev = "vda";
        def.disks.push_back(disk);
        conf::ChrDef serial;
        serial.type = conf::ChrDef::Type::File;
        serial.path = "/log/a,b";
        def.serials.push_back(serial);
        def.os.kernel = "/boot/k,ernel";
        def.os.cmdline = "a=b,c 'd'";
        auto opts = testOptions();
        opts.qmpSocketPath = "/run/x,server=off/guest.qmp";
        auto plans = planNetFds(def, false);
        auto argv = buildCommandLine(def, fixtureCaps("7.2.0"), plans, opts);
        CPPUNIT_ASSERT(hasArgPair(argv, "-name", "guest=a,,b=c"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-blockdev",
                                  R"({"driver":"file","filename":"/img/x,file=/etc/shadow",)"
                                  R"("node-name":"vd-0-storage","read-only":false})"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-chardev", "file,id=charserial0,path=/log/a,,b"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-chardev",
                                  "socket,id=charmonitor,path=/run/x,,server=off/guest.qmp,"
                                  "server=on,wait=off"));
        // -kernel and -append are taken verbatim by QEMU: no escaping.
        CPPUNIT_ASSERT(hasArgPair(argv, "-kernel", "/boot/k,ernel"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-append", "a=b,c 'd'"));
        // Without -blockdev the path goes through QemuOpts: commas doubled.
        QemuCaps old = fixtureCaps("7.2.0");
        old.set(QemuCapsFlag::Blockdev, false);
        DomainDef def2 = baseDomain();
        def2.disks.push_back(disk);
        auto argv2 = build(def2, old);
        CPPUNIT_ASSERT(hasArgPair(argv2, "-drive",
                                  "file=/img/x,,file=/etc/shadow,format=raw,if=none,"
                                  "id=drive-virtio-disk0"));
    }

    void testRefusals()
    {
        QemuCaps caps = fixtureCaps("7.2.0");
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1, "e1000,romfile=/etc/shadow"));
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: interface model "
                                         "'e1000,romfile=/etc/shadow' is not supported"),
                             errorOf([&] { build(def, caps); }));
        def = baseDomain();
        conf::DiskDef disk;
        disk.source = "nbd:evil:10809";
        disk.targetDev = "vda";
        def.disks.push_back(disk);
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: disk source "
                                         "'nbd:evil:10809' must be an absolute path"),
                             errorOf([&] { build(def, caps); }));
        def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().info.alias = "ua-x,id=y";
        CPPUNIT_ASSERT(errorOf([&] { build(def, caps); }).find("cannot be used as a QEMU id") !=
                       std::string::npos);
        // A NIC that never got a MAC is not called "multicast".
        def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().mac = MacAddr{};
        CPPUNIT_ASSERT_EQUAL(std::string("XML error: expected a non-zero mac address, found "
                                         "'00:00:00:00:00:00'"),
                             errorOf([&] { build(def, caps); }));
        def = baseDomain();
        def.os.machine = "pc,accel=kvm";
        CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: invalid machine type name "
                                         "'pc,accel=kvm'"),
                             errorOf([&] { build(def, caps); }));
        // Nothing can be expressed through the legacy monitor syntax with a comma.
        def = baseDomain();
        auto opts = testOptions();
        opts.qmpSocketPath = "/run/a,b.qmp";
        auto legacy = fixtureCaps("0.11.0");
        CPPUNIT_ASSERT(errorOf([&] { buildCommandLine(def, legacy, {}, opts); })
                           .find("contains a comma") != std::string::npos);
    }

    void testShellQuote()
    {
        CPPUNIT_ASSERT_EQUAL(std::string("-netdev"), shellQuote("-netdev"));
        CPPUNIT_ASSERT_EQUAL(std::string("guest=a,,b"), shellQuote("guest=a,,b"));
        CPPUNIT_ASSERT_EQUAL(std::string("''"), shellQuote(""));
        CPPUNIT_ASSERT_EQUAL(std::string("'{\"a\":1}'"), shellQuote("{\"a\":1}"));
        CPPUNIT_ASSERT_EQUAL(std::string("'it'\\''s $HOME'"), shellQuote("it's $HOME"));
        // The shell gives back exactly the argv.
        std::vector<std::string> argv{"/bin/printf", "%s\\n", "it's", "a b", "$HOME", "x,,y",
                                      "{\"k\":\"v\"}", "\n"};
        std::string cmd = formatCommandLine(argv);
        FILE *p = popen(cmd.c_str(), "r");
        CPPUNIT_ASSERT(p);
        std::string out;
        char buf[256];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
            out.append(buf, n);
        pclose(p);
        CPPUNIT_ASSERT_EQUAL(std::string("it's\na b\n$HOME\nx,,y\n{\"k\":\"v\"}\n\n\n"), out);
    }

    static void checkAddresses(const DomainDef &def)
    {
        std::set<std::tuple<unsigned, unsigned, unsigned>> seen;
        std::set<unsigned> buses{0};
        for (const auto &c : def.controllers)
            if (c.model == conf::ControllerDef::Model::PciBridge)
                buses.insert(c.index);
        auto check = [&](const conf::DeviceInfo &info) {
            CPPUNIT_ASSERT(info.pci);
            CPPUNIT_ASSERT(buses.count(info.pci->bus));
            CPPUNIT_ASSERT(info.pci->slot >= 1 && info.pci->slot <= 31);
            if (info.pci->bus == 0)
                CPPUNIT_ASSERT(info.pci->slot >= 2);
            CPPUNIT_ASSERT(seen.insert({info.pci->bus, info.pci->slot, info.pci->function})
                               .second);
        };
        for (const auto &c : def.controllers)
            if (c.model == conf::ControllerDef::Model::PciBridge)
                check(c.info);
        for (const auto &n : def.nets)
            check(n.info);
    }

    static size_t bridges(const DomainDef &def)
    {
        size_t n = 0;
        for (const auto &c : def.controllers)
            n += c.model == conf::ControllerDef::Model::PciBridge;
        return n;
    }

    void testAddresses82()
    {
        DomainDef def = baseDomain();
        for (unsigned i = 1; i <= 82; ++i)
            def.nets.push_back(directNic(i));
        auto argv = build(def, fixtureCaps("7.2.0"));
        checkAddresses(def);
        CPPUNIT_ASSERT_EQUAL(size_t(2), bridges(def));
        // net0 keeps the slot it has in a one-NIC domain.
        CPPUNIT_ASSERT_EQUAL(2u, def.nets[0].info.pci->slot);
        CPPUNIT_ASSERT(hasArgPair(argv, "-device", "pci-bridge,chassis_nr=1,id=pci.1,bus=pci.0,"
                                                   "addr=0x1f"));
    }

    void testAddresses250()
    {
        DomainDef def = baseDomain();
        for (unsigned i = 1; i <= 250; ++i)
            def.nets.push_back(directNic(i));
        build(def, fixtureCaps("7.2.0"));
        checkAddresses(def);
        CPPUNIT_ASSERT_EQUAL(size_t(8), bridges(def));
        // Capacity on pc with bridges on the root bus: 30 + 30 * 30.
        DomainDef big = baseDomain();
        for (unsigned i = 1; i <= 719; ++i)
            big.nets.push_back(directNic(i));
        build(big, fixtureCaps("7.2.0"));
        checkAddresses(big);
        // An emulator without pci-bridge stops at the root bus, clearly.
        DomainDef legacy = baseDomain();
        for (unsigned i = 1; i <= 31; ++i)
            legacy.nets.push_back(directNic(i));
        CPPUNIT_ASSERT(errorOf([&] { build(legacy, fixtureCaps("0.11.0")); })
                           .find("no free PCI slot for 1 more devices") != std::string::npos);
    }

    void testAddressesStable()
    {
        DomainDef def = baseDomain();
        for (unsigned i = 1; i <= 40; ++i)
            def.nets.push_back(directNic(i));
        DomainDef again = def;
        auto first = build(def, fixtureCaps("7.2.0"));
        // Same persistent definition -> same command line.
        auto second = build(again, fixtureCaps("7.2.0"));
        CPPUNIT_ASSERT(first == second);
        // Rebuilding from the filled (live) definition changes nothing.
        DomainDef live = def;
        auto third = build(live, fixtureCaps("7.2.0"));
        CPPUNIT_ASSERT(first == third);
        CPPUNIT_ASSERT_EQUAL(def.controllers.size(), live.controllers.size());
        // Removing a NIC keeps the others where they were.
        DomainDef fewer = def;
        fewer.nets.erase(fewer.nets.begin() + 3);
        build(fewer, fixtureCaps("7.2.0"));
        for (size_t i = 0; i < fewer.nets.size(); ++i)
            CPPUNIT_ASSERT(fewer.nets[i].info.pci == def.nets[i < 3 ? i : i + 1].info.pci);
    }

    void testAliases()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.push_back(directNic(2));
        def.nets.back().info.alias = "ua-uplink";
        def.nets.push_back(directNic(3));
        def.nets.back().info.alias = "net0"; // a live alias is kept
        assignDeviceAliases(def);
        CPPUNIT_ASSERT_EQUAL(std::string("net1"), def.nets[0].info.alias);
        CPPUNIT_ASSERT_EQUAL(std::string("ua-uplink"), def.nets[1].info.alias);
        CPPUNIT_ASSERT_EQUAL(std::string("hostua-uplink"), netdevAlias(def.nets[1]));
        CPPUNIT_ASSERT_EQUAL(std::string("net0"), def.nets[2].info.alias);
        def.nets[0].info.alias = "net0";
        CPPUNIT_ASSERT_EQUAL(std::string("XML error: non unique alias detected: net0"),
                             errorOf([&] { assignDeviceAliases(def); }));
    }

    void testKvmFallback()
    {
        DomainDef def = baseDomain();
        def.virtType = conf::VirtType::Kvm;
        auto opts = testOptions();
        opts.kvmUsable = false;
        std::vector<std::string> warnings;
        auto argv = buildCommandLine(def, fixtureCaps("7.2.0"), {}, opts, &warnings);
        CPPUNIT_ASSERT(hasArgPair(argv, "-accel", "tcg"));
        CPPUNIT_ASSERT_EQUAL(size_t(1), warnings.size());
        opts.kvmUsable = true;
        argv = buildCommandLine(def, fixtureCaps("7.2.0"), {}, opts, &warnings);
        CPPUNIT_ASSERT(hasArgPair(argv, "-accel", "kvm"));
    }

    void testPlanMismatch()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.back().queues = 2;
        std::vector<NetFdPlan> wrong{{{3}, {}}};
        CPPUNIT_ASSERT(errorOf([&] {
                           buildCommandLine(def, fixtureCaps("7.2.0"), wrong, testOptions());
                       }).find("internal error") == 0);
    }

    void testBehindHub()
    {
        DomainDef def = baseDomain();
        def.nets.push_back(directNic(1));
        def.nets.push_back(directNic(2));
        auto opts = testOptions();
        opts.nicsBehindHub = true;
        auto plans = planNetFds(def, false);
        auto argv = buildCommandLine(def, fixtureCaps("7.2.0"), plans, opts);
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev", R"({"type":"hubport","id":"hostnet1","hubid":1})"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev", R"({"type":"tap","fd":"4","id":"hostnet1-tap"})"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev",
                                  R"({"type":"hubport","id":"hostnet1-port","hubid":1,)"
                                  R"("netdev":"hostnet1-tap"})"));
        CPPUNIT_ASSERT(hasArgPair(argv, "-device", "virtio-net-pci,netdev=hostnet1,id=net1,"
                                                   "mac=52:54:00:00:00:02,bus=pci.0,addr=0x3"));
        argv = buildCommandLine(def, fixtureCaps("4.2.0"), plans, opts);
        CPPUNIT_ASSERT(hasArgPair(argv, "-netdev",
                                  "hubport,id=hostnet0-port,hubid=0,netdev=hostnet0-tap"));
        // vhost and multiqueue need a direct peer.
        plans = planNetFds(def, true);
        CPPUNIT_ASSERT(errorOf([&] { buildCommandLine(def, fixtureCaps("7.2.0"), plans, opts); })
                           .find("cannot be used behind a hub") != std::string::npos);
    }

    void testCapsRoundTrip()
    {
        for (auto v : {"7.2.0", "4.2.0", "0.11.0"}) {
            QemuCaps caps = fixtureCaps(v);
            QemuCaps again = QemuCaps::fromXML(caps.toXML(), "roundtrip");
            CPPUNIT_ASSERT_EQUAL(caps.toXML(), again.toXML());
            CPPUNIT_ASSERT_EQUAL(std::string(v), caps.versionString());
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuCommandTest);

// ---------------------------------------------------------------------------
// The real QEMU accepts what we generate.  Tap fds need a real macvtap (the
// end-to-end tests have one, in a private netns); here every tap backend is
// swapped for a hub port, which has the same id and needs no host
// resources, and QEMU is started paused (-S), inspected over QMP and quit.
namespace {

using vd::test::TempDir;

// A QEMU we started: killed by PID and reaped if the test leaves early.
struct QemuChild {
    pid_t pid = -1;
    ~QemuChild()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

std::vector<std::string> withHubports(const std::vector<std::string> &argv)
{
    std::vector<std::string> out;
    unsigned hub = 0;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "-netdev" && i + 1 < argv.size()) {
            JsonValue nd = JsonValue::parse(argv[i + 1]);
            if (nd.get("type").asString() == "tap") {
                out.push_back("-netdev");
                out.push_back(JsonValue::object({{"type", "hubport"},
                                                 {"id", nd.get("id").asString()},
                                                 {"hubid", 10000 + hub++}})
                                  .toString());
                ++i;
                continue;
            }
        }
        out.push_back(argv[i]);
    }
    return out;
}

// Start argv, wait for its QMP socket, run `commands` and return the
// replies (one JSON value per command).
std::vector<JsonValue> runQemu(const std::vector<std::string> &argv, const std::string &qmpPath,
                               const std::string &logPath,
                               const std::vector<std::string> &commands)
{
    std::vector<char *> cargv;
    for (const auto &a : argv)
        cargv.push_back(const_cast<char *>(a.c_str()));
    cargv.push_back(nullptr);
    int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CPPUNIT_ASSERT(log >= 0);
    QemuChild child;
    child.pid = fork();
    if (child.pid == 0) {
        dup2(log, 1);
        dup2(log, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    close(log);
    CPPUNIT_ASSERT(child.pid > 0);

    int sock = -1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        int st;
        if (waitpid(child.pid, &st, WNOHANG) == child.pid) {
            child.pid = -1;
            CPPUNIT_FAIL("QEMU rejected the command line: " + test::readText(logPath));
        }
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa {};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, qmpPath.c_str(), sizeof(sa.sun_path) - 1);
        if (connect(sock, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0)
            break;
        close(sock);
        sock = -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CPPUNIT_ASSERT_MESSAGE("QEMU never opened its QMP socket", sock >= 0);
    UniqueFd fd(sock);
    std::string buf;
    auto readMessage = [&]() -> JsonValue {
        while (true) {
            size_t nl = buf.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf.substr(0, nl);
                buf.erase(0, nl + 1);
                JsonValue v = JsonValue::parse(line);
                if (v.has("event"))
                    continue;
                return v;
            }
            char tmp[65536];
            ssize_t n = read(fd.get(), tmp, sizeof(tmp));
            if (n <= 0)
                CPPUNIT_FAIL("QMP connection closed");
            buf.append(tmp, static_cast<size_t>(n));
        }
    };
    auto send = [&](const std::string &cmd) {
        std::string line = cmd + "\n";
        CPPUNIT_ASSERT(write(fd.get(), line.data(), line.size()) ==
                       static_cast<ssize_t>(line.size()));
        return readMessage();
    };
    readMessage(); // greeting
    send(R"({"execute":"qmp_capabilities"})");
    std::vector<JsonValue> replies;
    for (const auto &c : commands)
        replies.push_back(send(c));
    send(R"({"execute":"quit"})");
    int st = 0;
    waitpid(child.pid, &st, 0);
    child.pid = -1;
    CPPUNIT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return replies;
}

// NICs among the devices QEMU created from our -device options (query-pci
// cannot see behind bridges before the firmware numbered the buses).
unsigned countNics(const JsonValue &peripherals)
{
    static const std::set<std::string> nicTypes{
        "child<virtio-net-pci>", "child<e1000>",   "child<rtl8139>", "child<e1000e>",
        "child<vmxnet3>",        "child<ne2k_pci>", "child<pcnet>"};
    unsigned n = 0;
    for (const auto &d : peripherals.asArray())
        n += nicTypes.count(d.get("type").asString());
    return n;
}

void acceptanceRun(DomainDef def, unsigned expectNics, bool behindHub = false)
{
    def.emulator = test::hostQemu();
    TempDir tmp;
    QemuCaps caps = probeQemuCaps(def.emulator);
    CommandOptions opts;
    opts.qmpSocketPath = tmp.path() + "/mon.qmp";
    opts.pidFilePath = tmp.path() + "/qemu.pid";
    opts.startPaused = true;
    opts.kvmUsable = false; // TCG: this host's /dev/kvm cannot run guests
    opts.nicsBehindHub = behindHub;
    for (auto &d : def.disks) {
        if (d.source.empty())
            continue;
        d.source = tmp.path() + "/" + d.source;
        int f = open(d.source.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        CPPUNIT_ASSERT(f >= 0 && ftruncate(f, 1 << 20) == 0);
        close(f);
    }
    for (auto &s : def.serials)
        if (s.type == conf::ChrDef::Type::File)
            s.path = tmp.path() + "/" + s.path;
    auto plans = planNetFds(def, caps, false);
    auto argv = withHubports(buildCommandLine(def, caps, plans, opts));
    auto replies = runQemu(argv, opts.qmpSocketPath, tmp.path() + "/qemu.log",
                           {R"({"execute":"qom-list","arguments":{"path":"/machine/peripheral"}})"});
    CPPUNIT_ASSERT_EQUAL(expectNics, countNics(replies.at(0).get("return")));
}

} // namespace

// Runs in a forked child that owns a fresh network and mount namespace
// (both vanish when it exits, so nothing can be left behind on the host):
// a veth pair as the macvtap parent, one macvtap per NIC with the NIC's MAC,
// its character device opened through a node we create ourselves (never
// /dev/tapN, which names the wrong device across namespaces), the fds moved
// onto exactly the planned numbers, then QEMU started with the generated
// command line.  Returns "" on success or what went wrong.
std::string macvtapChild(const DomainDef &def, const std::vector<NetFdPlan> &plans,
                         const std::vector<std::vector<std::string>> &argvs,
                         const std::string &tmp, const std::string &qmpPath)
{
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
        return std::string("unshare: ") + std::strerror(errno);
    // Keep our sysfs mount out of the host's mount table.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0 ||
        mount("sysfs", "/sys", "sysfs", 0, nullptr) < 0)
        return std::string("mount: ") + std::strerror(errno);
    auto sh = [](const std::string &cmd) { return std::system((cmd + " 2>&1").c_str()) == 0; };
    const std::string ip = IP_PATH;
    if (!sh(ip + " link add vdq-p0 type veth peer name vdq-p1") ||
        !sh(ip + " link set vdq-p0 up") || !sh(ip + " link set vdq-p1 up"))
        return "cannot create the veth pair";
    std::vector<std::string> nodes;
    for (size_t i = 0; i < def.nets.size(); ++i) {
        std::string name = "vdqtap" + std::to_string(i);
        if (!sh(ip + " link add link vdq-p0 name " + name + " type macvtap mode bridge") ||
            !sh(ip + " link set " + name + " address " + def.nets[i].mac.str() + " up"))
            return "cannot create macvtap " + name;
        std::string ifindex = test::readText("/sys/class/net/" + name + "/ifindex");
        ifindex.erase(ifindex.find_last_not_of("\n") + 1);
        std::string dev =
            test::readText("/sys/class/net/" + name + "/macvtap/tap" + ifindex + "/dev");
        unsigned maj = 0, min = 0;
        if (std::sscanf(dev.c_str(), "%u:%u", &maj, &min) != 2)
            return "cannot read the device number of " + name;
        std::string node = tmp + "/" + name;
        if (mknod(node.c_str(), S_IFCHR | 0600, makedev(maj, min)) < 0)
            return std::string("mknod: ") + std::strerror(errno);
        nodes.push_back(node);
    }
    for (const auto &argv : argvs) {
        // Fresh fds for every QEMU, as a real start has: a queue that one
        // QEMU detached stays detached, and the next QEMU aborts when it
        // cannot detach it again ("could not disable queue").
        std::vector<int> opened; // high-numbered fds, in plan order
        for (size_t i = 0; i < nodes.size(); ++i) {
            // One open per queue: a macvtap is multiqueue by opening it again.
            for (size_t q = 0; q < plans[i].tapFds.size(); ++q) {
                int fd = open(nodes[i].c_str(), O_RDWR | O_CLOEXEC);
                if (fd < 0)
                    return std::string("open ") + nodes[i] + ": " + std::strerror(errno);
                int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
                close(fd);
                opened.push_back(high);
            }
        }
        size_t k = 0;
        for (const auto &p : plans)
            for (int target : p.tapFds) {
                if (dup2(opened[k], target) < 0) // dup2 clears close-on-exec
                    return std::string("dup2: ") + std::strerror(errno);
                close(opened[k++]);
            }
        auto replies = runQemu(argv, qmpPath, tmp + "/qemu.log",
                               {R"({"execute":"human-monitor-command",)"
                                R"("arguments":{"command-line":"info network"}})"});
        std::string info = replies.at(0).get("return").asString();
        for (const auto &n : def.nets)
            if (info.find(n.info.alias + ": index=0,type=nic") == std::string::npos ||
                info.find(netdevAlias(n) + ": index=0,type=tap") == std::string::npos)
                return "QEMU does not show NIC " + n.info.alias + " on a tap: " + info;
    }
    return "";
}

class QemuAcceptTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuAcceptTest);
    CPPUNIT_TEST(testNoNics);
    CPPUNIT_TEST(testMixed);
    CPPUNIT_TEST(test250Nics);
    CPPUNIT_TEST(testQ35);
    CPPUNIT_TEST(testBehindHub);
    CPPUNIT_TEST(testRealMacvtap);
    CPPUNIT_TEST_SUITE_END();

public:
    void testNoNics()
    {
        DomainDef def = baseDomain("no,nics");
        def.onReboot = conf::LifecycleAction::Destroy;
        acceptanceRun(def, 0);
    }

    void testMixed()
    {
        DomainDef def = baseDomain("mixed");
        def.vcpus = 2;
        def.virtType = conf::VirtType::Kvm; // falls back to TCG
        conf::DiskDef disk;
        disk.source = "disk,with,commas.img";
        disk.targetDev = "vda";
        disk.info.bootIndex = 1;
        def.disks.push_back(disk);
        disk.targetDev = "hda";
        disk.bus = conf::DiskDef::Bus::Ide;
        disk.source = "ide.img";
        disk.info.bootIndex.reset();
        def.disks.push_back(disk);
        conf::DiskDef cd;
        cd.device = conf::DiskDef::Device::Cdrom;
        cd.bus = conf::DiskDef::Bus::Ide;
        cd.targetDev = "hdc";
        def.disks.push_back(cd);
        conf::ChrDef serial;
        serial.type = conf::ChrDef::Type::File;
        serial.path = "serial,0.log";
        def.serials.push_back(serial);
        serial.type = conf::ChrDef::Type::Null;
        def.serials.push_back(serial);
        for (auto model : {"virtio", "e1000", "rtl8139", "e1000e", "vmxnet3", "ne2k_pci",
                           "pcnet"})
            def.nets.push_back(directNic(def.nets.size() + 1, model));
        def.nets[0].queues = 4;
        def.nets[0].mtu = 9000;
        def.nets[0].info.bootIndex = 2;
        def.nets[1].info.alias = "ua-second";
        acceptanceRun(def, 7);
    }

    void test250Nics()
    {
        DomainDef def = baseDomain("many");
        def.memoryKiB = 1048576;
        for (unsigned i = 1; i <= 250; ++i)
            def.nets.push_back(directNic(i));
        acceptanceRun(def, 250);
    }

    void testQ35()
    {
        DomainDef def = baseDomain("q35");
        def.os.machine = "q35";
        conf::DiskDef disk;
        disk.source = "sata.img";
        disk.targetDev = "sda";
        disk.bus = conf::DiskDef::Bus::Sata;
        def.disks.push_back(disk);
        for (unsigned i = 1; i <= 40; ++i)
            def.nets.push_back(directNic(i));
        acceptanceRun(def, 40);
    }

    void testBehindHub()
    {
        DomainDef def = baseDomain("hub");
        for (unsigned i = 1; i <= 5; ++i)
            def.nets.push_back(directNic(i, i % 2 ? "virtio" : "e1000"));
        acceptanceRun(def, 5, true);
    }

    // The tap part for real: QEMU takes the planned fds of real macvtaps,
    // in JSON and key=value -netdev syntax, multiqueue included.
    void testRealMacvtap()
    {
        const std::string realQemu = test::hostQemu();
        if (!test::isRoot())
            test::skip("needs root for a private network namespace");
        TempDir tmp;
        QemuCaps caps = probeQemuCaps(realQemu);
        DomainDef def = baseDomain("macvtap");
        def.emulator = realQemu;
        def.nets.push_back(directNic(1));
        def.nets.back().queues = 2;
        def.nets.push_back(directNic(2, "e1000"));
        def.nets.push_back(directNic(3));
        def.nets.back().mtu = 1400;
        CommandOptions opts;
        opts.qmpSocketPath = tmp.path() + "/mon.qmp";
        opts.startPaused = true;
        opts.kvmUsable = false;
        auto plans = planNetFds(def, caps, false);
        std::vector<std::vector<std::string>> argvs;
        argvs.push_back(buildCommandLine(def, caps, plans, opts));
        QemuCaps keyval = caps;
        keyval.set(QemuCapsFlag::NetdevJson, false);
        argvs.push_back(buildCommandLine(def, keyval, plans, opts));

        int pipefd[2];
        CPPUNIT_ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
        UniqueFd rd(pipefd[0]), wr(pipefd[1]);
        QemuChild child; // reaped (and killed if need be) on every path
        child.pid = fork();
        CPPUNIT_ASSERT(child.pid >= 0);
        if (child.pid == 0) {
            rd.reset();
            // Out of the way of the fd numbers QEMU gets (3, 4, ...).
            wr = UniqueFd(fcntl(wr.get(), F_DUPFD_CLOEXEC, 300));
            std::string err;
            try {
                err = macvtapChild(def, plans, argvs, tmp.path(), opts.qmpSocketPath);
            } catch (const CppUnit::Exception &e) {
                err = e.what();
            } catch (const std::exception &e) {
                err = e.what();
            }
            if (err.empty())
                err = "ok";
            (void)!write(wr.get(), err.data(), err.size());
            _exit(0);
        }
        wr.reset();
        std::string result;
        char buf[4096];
        ssize_t n;
        while ((n = read(rd.get(), buf, sizeof(buf))) > 0)
            result.append(buf, static_cast<size_t>(n));
        waitpid(child.pid, nullptr, 0);
        child.pid = -1;
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), result);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuAcceptTest);

#ifdef VD_HAVE_DOMAIN_XML
// ---------------------------------------------------------------------------
// Data-driven: NAME.xml -> NAME.<variant>.args (or .err), like libvirt's
// qemuxmlconftest.  Every XML file in the directory must appear here.
namespace {

struct Xml2ArgvCase {
    const char *name;
    const char *caps;  // fixture version
    bool vhost;        // /dev/vhost-net available on the pretend host
};

const Xml2ArgvCase xml2argvCases[] = {
    {"net-direct-basic", "7.2.0", false},
    {"net-direct-basic", "4.2.0", false},
    {"net-direct-basic", "0.11.0", false},
    {"net-direct-models", "7.2.0", false},
    {"net-direct-models", "0.11.0", false},
    {"net-direct-multiqueue", "7.2.0", false},
    {"net-direct-multiqueue", "7.2.0", true},
    {"net-direct-multiqueue", "4.2.0", true},
    {"net-direct-multiqueue", "0.11.0", false},
    {"net-direct-multiqueue-e1000", "7.2.0", false},
    {"net-direct-vhost", "7.2.0", true},
    {"net-direct-vhost", "7.2.0", false},
    {"net-direct-vhost", "0.11.0", true},
    {"net-direct-vhost-default", "7.2.0", true},
    {"net-direct-vhost-default", "7.2.0", false},
    {"net-direct-vhost-e1000", "7.2.0", true},
    {"net-direct-mtu", "7.2.0", false},
    {"net-direct-linkstate", "7.2.0", false},
    {"net-direct-boot", "7.2.0", false},
    {"net-direct-alias", "7.2.0", false},
    {"net-direct-ifname", "7.2.0", false},
    {"net-direct-address", "7.2.0", false},
    {"net-direct-address-dup", "7.2.0", false},
    {"net-direct-address-nobus", "7.2.0", false},
    {"net-direct-model-inject", "7.2.0", false},
    {"net-direct-model-unknown", "7.2.0", false},
    {"net-direct-many-1", "7.2.0", false},
    {"net-direct-many-82", "7.2.0", false},
    {"net-direct-many-82", "0.11.0", false},
    {"net-direct-many-250", "7.2.0", true},
    {"disks", "7.2.0", false},
    {"disks", "0.11.0", false},
    {"disk-sata-pc", "7.2.0", false},
    {"disk-relative", "7.2.0", false},
    {"q35-sata", "7.2.0", false},
    {"kernel-boot", "7.2.0", false},
    {"kernel-boot", "0.11.0", false},
    {"serial-file-null", "7.2.0", false},
    {"serial-file-null", "0.11.0", false},
    {"escape-commas", "7.2.0", false},
    {"escape-commas", "4.2.0", false},
    {"machine-isapc", "7.2.0", false},
    {"machine-unknown", "7.2.0", false},
};

std::string variantName(const Xml2ArgvCase &c)
{
    return std::string(c.name) + ".x86_64-" + c.caps + (c.vhost ? "-vhost" : "");
}

void runXml2Argv(const Xml2ArgvCase &c)
{
    const std::string dir = test::srcDir() + "/qemuxml2argvdata/";
    const std::string base = dir + variantName(c);
    QemuCaps caps = fixtureCaps(c.caps);
    std::string out;
    bool failed = false;
    try {
        auto def = parseDomainXMLForQemu(test::readText(dir + c.name + ".xml"),
                                         conf::PARSE_INACTIVE, false);
        // kvmUsable=true: golden files must not depend on this host's KVM.
        out = domainDefToNative(*def, vd::Paths::forRoot(""), caps, c.vhost, true, true);
    } catch (const vd::Error &e) {
        out = std::string(e.what()) + "\n";
        failed = true;
    }
    // Exactly one of .args / .err exists for a variant.
    const std::string golden = base + (failed ? ".err" : ".args");
    const std::string other = base + (failed ? ".args" : ".err");
    const char *regen = std::getenv("VIR_TEST_REGENERATE_OUTPUT");
    if (regen && std::string(regen) == "1")
        std::filesystem::remove(other);
    else
        CPPUNIT_ASSERT_MESSAGE(failed ? "expected success, got: " + out
                                      : "expected an error, got a command line",
                               !std::filesystem::exists(other));
    test::checkGolden(golden, out);
}

// The whole domxml-to-native path on this host: real probe through the
// cache of a scratch root, nothing created except the cache entry.
void runDomxmlToNativeHost()
{
    const std::string realQemu = test::hostQemu();
    TempDir tmp;
    Paths paths = Paths::forRoot(tmp.path() + "/root");
    std::string xml = test::readText(test::srcDir() + "/qemuxml2argvdata/net-direct-basic.xml");
    xml.replace(xml.find(fixtureEmulator), std::string(fixtureEmulator).size(), realQemu);
    std::string out = Driver(paths).toNative("qemu-argv", xml);
    CPPUNIT_ASSERT(out.find("# net0: macvtap on eth0, mode bridge, tap fd 3") == 0);
    CPPUNIT_ASSERT(out.find("\n" + realQemu + " -name guest=QEMUGuest1 ") != std::string::npos);
    CPPUNIT_ASSERT(out.find(" -netdev '{\"type\":\"tap\",\"fd\":\"3\",") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL('\n', out.back());
    checkNativeFormat("qemu-argv");
    CPPUNIT_ASSERT_EQUAL(std::string("unsupported configuration: Unsupported config type "
                                     "native-xml"),
                         errorOf([] { checkNativeFormat("native-xml"); }));
    CPPUNIT_ASSERT_EQUAL(2L, static_cast<long>(std::count(out.begin(), out.end(), '\n')));
    for (const auto &e : std::filesystem::recursive_directory_iterator(tmp.path() + "/root"))
        if (e.is_regular_file())
            CPPUNIT_ASSERT_MESSAGE(e.path().string(),
                                   e.path().string().rfind(paths.cacheDir, 0) == 0);
}

vd::test::DataSuite xml2argvSuite("qemuxml2argv", [](const vd::test::AddTest &add) {
    add("domxml-to-native-host", runDomxmlToNativeHost);
    std::set<std::string> listed;
    for (const auto &c : xml2argvCases) {
        listed.insert(c.name);
        add(variantName(c), [c] { runXml2Argv(c); });
    }
    add("all-files-listed", [listed] {
        for (const auto &f : test::listFiles(test::srcDir() + "/qemuxml2argvdata", ".xml")) {
            std::string name = std::filesystem::path(f).stem().string();
            CPPUNIT_ASSERT_MESSAGE(name + ".xml is not in xml2argvCases", listed.count(name));
        }
    });
});

} // namespace
#endif
