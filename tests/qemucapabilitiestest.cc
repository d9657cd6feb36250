// Capability probing against the installed QEMU, and the probe cache.
#include <config.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "qemu/qemu_capabilities.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"

using namespace vd;
using namespace vd::qemu;

namespace {

using vd::test::TempDir;

// The device types virt-direct asks the capabilities about: the -device
// types of the NIC models it accepts, and pci-bridge for address assignment.
// Whatever else the host's QEMU offers depends on optional packages
// (qemu-system-gui adds virtio-gpu-gl-device, ...) and is not compared.
const char *const devicesVirtDirectUses[] = {"virtio-net-pci", "e1000",    "e1000e",
                                             "rtl8139",        "ne2k_pci", "pcnet",
                                             "vmxnet3",        "pci-bridge"};

} // namespace

class QemuCapabilitiesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuCapabilitiesTest);
    CPPUNIT_TEST(testProbe);
    CPPUNIT_TEST(testProbeWithStdioClosed);
    CPPUNIT_TEST(testCache);
    CPPUNIT_TEST(testFixtures);
    CPPUNIT_TEST(testFindEmulator);
    CPPUNIT_TEST(testBrokenBinary);
    CPPUNIT_TEST(testPreQmpBinary);
    CPPUNIT_TEST_SUITE_END();

public:
    void testProbe()
    {
        const std::string realQemu = test::hostQemu();
        QemuCaps caps = probeQemuCaps(realQemu);
        CPPUNIT_ASSERT(caps.version >= 7002000);
        for (auto f : {QemuCapsFlag::Qmp, QemuCapsFlag::Netdev, QemuCapsFlag::NetdevJson,
                       QemuCapsFlag::Device, QemuCapsFlag::HostMtu, QemuCapsFlag::VhostNet})
            CPPUNIT_ASSERT_MESSAGE(std::string(toString(f)), caps.has(f));
        for (auto d : {"virtio-net-pci", "e1000", "rtl8139", "pci-bridge", "isa-serial",
                       "virtio-blk-pci"})
            CPPUNIT_ASSERT_MESSAGE(d, caps.hasDevice(d));
        CPPUNIT_ASSERT(caps.hasNetdev("tap"));
        CPPUNIT_ASSERT(caps.hasNetdev("hubport"));
        CPPUNIT_ASSERT(caps.findMachine("pc"));
        CPPUNIT_ASSERT(caps.findMachine("q35"));
        CPPUNIT_ASSERT_EQUAL(std::string("pc"), caps.defaultMachine());
        // The fixture for 7.2 came from this probe: same flags, and the same
        // answer for every device type virt-direct relies on.
        QemuCaps fixture = QemuCaps::fromFile(test::srcDir() +
                                              "/qemucapabilitiesdata/qemu_7.2.0.x86_64.xml");
        if (caps.version / 1000 == 7002) {
            CPPUNIT_ASSERT(fixture.flags == caps.flags);
            for (const char *d : devicesVirtDirectUses)
                CPPUNIT_ASSERT_EQUAL_MESSAGE(d, fixture.hasDevice(d), caps.hasDevice(d));
        }
    }

    // Started with stdin (and stdout) closed, e.g. from a script with <&-,
    // the probe's pipe ends become fds 0/1: dup2 onto themselves kept them
    // close-on-exec, QEMU got no QMP channel and the -help fallback's poor
    // capabilities ("no virtio-net-pci") were cached for good.
    void testProbeWithStdioClosed()
    {
        const std::string realQemu = test::hostQemu();
        std::fflush(nullptr);
        pid_t pid = fork();
        if (pid == 0) {
            int rc = 1;
            try {
                ::close(0);
                ::close(1);
                QemuCaps caps = probeQemuCaps(realQemu);
                rc = caps.has(QemuCapsFlag::Qmp) && caps.hasDevice("virtio-net-pci") ? 0 : 2;
            } catch (...) {
                rc = 3;
            }
            ::_exit(rc);
        }
        int status = 0;
        CPPUNIT_ASSERT_EQUAL(pid, ::waitpid(pid, &status, 0));
        CPPUNIT_ASSERT(WIFEXITED(status));
        CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
    }

    void testCache()
    {
        const std::string realQemu = test::hostQemu();
        TempDir tmp;
        // A wrapper script stands in for the binary so the test can change
        // its mtime without touching the real QEMU.
        std::string wrapper = tmp.path() + "/qemu-system-x86_64";
        writeFileAtomic(wrapper, std::string("#!/bin/sh\nexec ") + realQemu + " \"$@\"\n", 0755);
        Paths paths = Paths::forRoot(tmp.path() + "/root");

        QemuCapsCache cache(paths);
        QemuCaps first = cache.get(wrapper);
        CPPUNIT_ASSERT_EQUAL(1u, cache.probes());
        CPPUNIT_ASSERT(access(cache.entryPath(wrapper).c_str(), F_OK) == 0);
        CPPUNIT_ASSERT(cache.entryPath(wrapper).rfind(paths.cacheDir, 0) == 0);

        // A new cache object (a new virt-direct process) reuses the entry.
        QemuCapsCache again(paths);
        QemuCaps second = again.get(wrapper);
        CPPUNIT_ASSERT_EQUAL(0u, again.probes());
        CPPUNIT_ASSERT_EQUAL(first.toXML(), second.toXML());

        // A changed binary (new mtime) is probed again.
        struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
        CPPUNIT_ASSERT_EQUAL(0, utimensat(AT_FDCWD, wrapper.c_str(), times, 0));
        QemuCaps third = again.get(wrapper);
        CPPUNIT_ASSERT_EQUAL(1u, again.probes());
        CPPUNIT_ASSERT_EQUAL(1000000000LL * 1000000000LL, third.binaryMtimeNs);
        again.get(wrapper);
        CPPUNIT_ASSERT_EQUAL(1u, again.probes());

        // A damaged entry is replaced, not fatal.
        writeFileAtomic(again.entryPath(wrapper), "<garbage", 0644);
        QemuCapsCache fresh(paths);
        fresh.get(wrapper);
        CPPUNIT_ASSERT_EQUAL(1u, fresh.probes());
    }

    void testFixtures()
    {
        auto files = test::listFiles(test::srcDir() + "/qemucapabilitiesdata", ".xml");
        CPPUNIT_ASSERT(files.size() >= 3);
        for (const auto &f : files) {
            QemuCaps caps = QemuCaps::fromFile(f);
            CPPUNIT_ASSERT(caps.version > 0);
            CPPUNIT_ASSERT(!caps.defaultMachine().empty());
        }
        QemuCaps old = QemuCaps::fromFile(test::srcDir() +
                                          "/qemucapabilitiesdata/qemu_0.11.0.x86_64.xml");
        CPPUNIT_ASSERT(!old.has(QemuCapsFlag::Netdev));
        CPPUNIT_ASSERT_THROW(QemuCaps::fromXML("<qemuCaps format='1'><flag name='bogus'/>"
                                               "</qemuCaps>",
                                               "x"),
                             vd::Error);
    }

    void testBrokenBinary()
    {
        TempDir tmp;
        std::string fake = tmp.path() + "/qemu-system-x86_64";
        writeFileAtomic(fake, "#!/bin/sh\necho 'qemu: cannot do anything' >&2\nexit 1\n", 0755);
        Paths paths = Paths::forRoot(tmp.path() + "/root");
        QemuCapsCache cache(paths);
        std::string msg;
        try {
            cache.get(fake);
        } catch (const vd::Error &e) {
            msg = e.what();
        }
        CPPUNIT_ASSERT_EQUAL("internal error: Failed to probe capabilities for " + fake +
                                 ": qemu: cannot do anything",
                             msg);
        // Nothing cached for a binary that could not be probed.
        CPPUNIT_ASSERT(access(cache.entryPath(fake).c_str(), F_OK) != 0);
    }

    // An emulator from before QMP (a script answering like QEMU 0.11):
    // the probe falls back to -version and -help.
    void testPreQmpBinary()
    {
        TempDir tmp;
        std::string fake = tmp.path() + "/qemu-system-x86_64";
        writeFileAtomic(fake,
                        "#!/bin/sh\n"
                        "case \"$1\" in\n"
                        "-version) echo 'QEMU PC emulator version 0.11.0, Copyright (c) 2003-2008 "
                        "Fabrice Bellard' ;;\n"
                        "-help) printf 'usage: qemu [options] [disk_image]\\n\\n"
                        "-M machine      select emulated machine\\n"
                        "-name string    set the name of the guest\\n"
                        "-net nic[,vlan=n][,macaddr=mac][,model=type][,name=str][,addr=str]\\n"
                        "-drive [file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]\\n"
                        "-enable-kvm     enable KVM full virtualization support\\n' ;;\n"
                        "*) echo \"qemu: invalid option -- '$1'\" >&2; exit 1 ;;\n"
                        "esac\n",
                        0755);
        QemuCaps caps = probeQemuCaps(fake);
        CPPUNIT_ASSERT_EQUAL(std::string("0.11.0"), caps.versionString());
        CPPUNIT_ASSERT(!caps.has(QemuCapsFlag::Netdev));
        CPPUNIT_ASSERT(!caps.has(QemuCapsFlag::Device));
        CPPUNIT_ASSERT(!caps.has(QemuCapsFlag::Qmp));
        CPPUNIT_ASSERT(caps.has(QemuCapsFlag::Kvm));
        CPPUNIT_ASSERT(caps.hasDevice("virtio"));
        CPPUNIT_ASSERT_EQUAL(std::string("pc"), caps.defaultMachine());
    }

    void testFindEmulator()
    {
        CPPUNIT_ASSERT_THROW(findEmulator("relative/qemu", "x86_64"), vd::Error);
        CPPUNIT_ASSERT_THROW(findEmulator("", "no-such-arch-xyz"), vd::Error);
        const std::string realQemu = test::hostQemu();
        CPPUNIT_ASSERT_EQUAL(realQemu, findEmulator(realQemu, "x86_64"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuCapabilitiesTest);
