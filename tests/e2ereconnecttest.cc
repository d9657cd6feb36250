// End-to-end proof of the reconnect recipe: a guest whose NIC sits on a QEMU
// hub, its tap backend a macvtap in a private namespace.  The macvtap's
// parent (a veth) is deleted - the macvtap dies with it and the guest's
// pings fail - then parent and macvtap are re-created with the same MACs
// and Monitor::replaceHubBackend() hands QEMU the new tap fd.  The guest's
// pings must resume without any hotplug.
//
// Root, QEMU and the guest kit (tests/guest/build-guest.sh, cached in
// $VD_GUEST_CACHE, default /var/tmp/virt-direct-guest) are required;
// VD_SKIP_E2E=1 skips.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "qemu/qemu_monitor.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "virnetns.h"

using namespace std::chrono;
using vd::Command;
using vd::UniqueFd;

namespace {

std::string guestCache()
{
    const char *c = std::getenv("VD_GUEST_CACHE");
    return c && *c ? c : "/var/tmp/virt-direct-guest";
}

// A private network namespace (vd::NamedNetns: deleted with everything in
// it on destruction and on fatal signals).
class Netns {
public:
    const std::string &name() const { return ns_.name(); }
    void in(const std::vector<std::string> &args) const { ns_.ip(args); }
    // Read a file in the namespace's own sysfs (ip netns exec mounts it).
    std::string sysfs(const std::string &glob) const
    {
        std::string out = Command("ip", {"netns", "exec", name(), "sh", "-c", "cat " + glob})
                              .runChecked(seconds(20));
        while (!out.empty() && out.back() == '\n')
            out.pop_back();
        return out;
    }

private:
    vd::NamedNetns ns_{"vd-rc"};
};

class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/vdreconnect.XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir()
    {
        if (!std::getenv("VD_E2E_KEEP"))
            std::filesystem::remove_all(path_);
    }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

const char *guestMac = "52:54:00:78:00:02";
const char *peerMac = "52:54:00:78:00:01";

// veth vdp0 (macvtap parent) <-> vdq0 (peer 10.78.0.1), macvtap vdmvt0 on
// vdp0; returns the macvtap's tap fd, opened through a private device node
// (never /dev/tapN: ifindexes are per namespace, those names global).
UniqueFd createLink(const Netns &ns, const std::string &dir, int generation)
{
    ns.in({"link", "add", "vdp0", "type", "veth", "peer", "name", "vdq0", "address", peerMac});
    ns.in({"link", "set", "vdp0", "up"});
    ns.in({"link", "set", "vdq0", "up"});
    ns.in({"addr", "add", "10.78.0.1/24", "dev", "vdq0"});
    ns.in({"link", "add", "link", "vdp0", "name", "vdmvt0", "address", guestMac, "type", "macvtap",
           "mode", "bridge"});
    ns.in({"link", "set", "vdmvt0", "up"});
    std::string majmin = ns.sysfs("/sys/class/net/vdmvt0/macvtap/tap*/dev");
    unsigned maj = std::stoul(majmin.substr(0, majmin.find(':')));
    unsigned min = std::stoul(majmin.substr(majmin.find(':') + 1));
    std::string node = dir + "/tap-" + std::to_string(generation);
    if (mknod(node.c_str(), S_IFCHR | 0600, makedev(maj, min)) < 0)
        vd::raiseSystem(errno, "mknod " + node);
    UniqueFd fd(open(node.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd)
        vd::raiseSystem(errno, "open " + node);
    unlink(node.c_str());
    return fd;
}

// Wait until `needle` appears in the console log after offset `from`;
// returns the offset just after it.
size_t waitConsole(const std::string &path, const std::string &needle, size_t from,
                   seconds limit, const vd::Child &qemu)
{
    auto deadline = steady_clock::now() + limit;
    for (;;) {
        std::string text;
        try {
            text = vd::readFile(path);
        } catch (const vd::Error &) {
        }
        size_t at = text.find(needle, from);
        if (at != std::string::npos)
            return at + needle.size();
        if (steady_clock::now() > deadline || !qemu.running())
            CPPUNIT_FAIL("guest console never showed '" + needle + "':\n" + text);
        std::this_thread::sleep_for(milliseconds(50));
    }
}

// "VD-PING ok 12.34": the guest uptime that follows the marker ending at `end`.
double uptimeAt(const std::string &text, size_t end) { return std::stod(text.substr(end)); }

} // namespace

class E2eReconnectTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(E2eReconnectTest);
    CPPUNIT_TEST(testReconnectAfterParentLoss);
    CPPUNIT_TEST_SUITE_END();

public:
    void testReconnectAfterParentLoss()
    {
        if (const char *s = std::getenv("VD_SKIP_E2E"); s && *s && std::string(s) != "0")
            vd::test::skip("VD_SKIP_E2E is set");
        if (!vd::test::isRoot())
            vd::test::skip("needs root (network namespaces)");
        std::string qemuBin = vd::test::hostQemu();
        auto kit = Command("sh", {vd::test::srcDir() + "/guest/build-guest.sh", guestCache()})
                       .run(seconds(600));
        if (kit.status.exited() && kit.status.exitCode() == 77)
            vd::test::skip("guest kit unavailable: " + kit.output);
        CPPUNIT_ASSERT_MESSAGE(kit.output, kit.status.success());

        TempDir dir;
        Netns ns;
        UniqueFd tap = createLink(ns, dir.path(), 0);
        std::string console = dir.path() + "/console.log";
        UniqueFd listener = vd::qemu::createMonitorListener(dir.path() + "/monitor.sock");
        std::string append = std::string("console=ttyS0 panic=-1 quiet vd.nics=1 "
                                          "vd.ip0=10.78.0.2/24 vd.peer0=10.78.0.1 vd.mac0=") +
                             guestMac + " vd.port=5556 vd.msg=reconnect vd.pingloop=90";
        // NIC on hub 0; the tap joins the hub through its own port, so the
        // port and tap can be replaced while the NIC stays.
        Command cmd(qemuBin,
                    {"-M", "pc", "-accel", "tcg", "-m", "256", "-smp", "1", "-nodefaults",
                     "-no-user-config", "-display", "none", "-no-reboot", "-kernel",
                     guestCache() + "/vmlinuz", "-initrd", guestCache() + "/initramfs.cpio",
                     "-append", append, "-netdev", "hubport,id=hpnic0,hubid=0", "-device",
                     std::string("virtio-net-pci,netdev=hpnic0,id=net0,mac=") + guestMac,
                     "-netdev", "tap,fd=3,id=tap0", "-netdev",
                     "hubport,id=hptap0,hubid=0,netdev=tap0", "-serial", "file:" + console,
                     "-chardev", "socket,id=mon,fd=4,server=on,wait=off", "-mon",
                     "chardev=mon,mode=control"});
        // If the test runner dies, QEMU must not linger.
        cmd.passFd(3, tap.get()).passFd(4, listener.get()).setLogFile(dir.path() + "/qemu.log");
        cmd.setKillOnParentDeath(true);
        vd::Child qemu = cmd.spawn();
        qemu.setTerminateGrace(seconds(3));
        tap.reset();
        listener.reset();
        vd::qemu::Monitor mon =
            vd::qemu::Monitor::connect(dir.path() + "/monitor.sock", seconds(20),
                                       [&] { return !qemu.tryWait(); });

        size_t pos = waitConsole(console, "VD-NIC 0 dev=eth0", 0, seconds(120), qemu);
        pos = waitConsole(console, "VD-PING ok", pos, seconds(60), qemu);

        // The parent goes away: the macvtap is deleted with it.
        ns.in({"link", "del", "vdp0"});
        size_t failAt = waitConsole(console, "VD-PING fail", pos, seconds(30), qemu);

        // It comes back; a new macvtap with the guest's MAC, a new tap fd.
        UniqueFd newTap = createLink(ns, dir.path(), 1);
        auto t0 = steady_clock::now();
        mon.replaceHubBackend(0, "hptap0", "tap0", newTap.get());
        newTap.reset();
        size_t okAt = waitConsole(console, "VD-PING ok", failAt, seconds(30), qemu);
        double resumed = duration<double>(steady_clock::now() - t0).count();

        std::string text = vd::readFile(console);
        double lost = uptimeAt(text, okAt) - uptimeAt(text, failAt);
        std::cout << "\n  reconnect: pings resumed " << resumed << " s after replaceHubBackend ("
                  << lost << " s of guest-visible outage)\n";
        mon.quit();
        CPPUNIT_ASSERT(qemu.waitFor(seconds(10)));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(E2eReconnectTest);
