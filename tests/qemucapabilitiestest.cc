// Capability probing against the installed QEMU, and the probe cache.
#include <config.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "qemu/qemu_capabilities.h"
#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"

using namespace vd;
using namespace vd::qemu;

namespace {

const char *const realQemu = "/usr/bin/qemu-system-x86_64";

// A scratch directory removed on destruction.
struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/vd-capstest-XXXXXX";
        if (!mkdtemp(tmpl))
            throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

void requireQemu()
{
    if (access(realQemu, X_OK) != 0)
        test::skip("no qemu-system-x86_64 installed");
}

} // namespace

class QemuCapabilitiesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(QemuCapabilitiesTest);
    CPPUNIT_TEST(testProbe);
    CPPUNIT_TEST(testCache);
    CPPUNIT_TEST(testFixtures);
    CPPUNIT_TEST(testFindEmulator);
    CPPUNIT_TEST(testBrokenBinary);
    CPPUNIT_TEST_SUITE_END();

public:
    void testProbe()
    {
        requireQemu();
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
        // The fixture for 7.2 came from this probe: same devices and flags.
        QemuCaps fixture = QemuCaps::fromFile(test::srcDir() +
                                              "/qemucapabilitiesdata/qemu_7.2.0.x86_64.xml");
        if (caps.version / 1000 == 7002) {
            CPPUNIT_ASSERT(fixture.flags == caps.flags);
            CPPUNIT_ASSERT(fixture.deviceTypes == caps.deviceTypes);
        }
    }

    void testCache()
    {
        requireQemu();
        TempDir tmp;
        // A wrapper script stands in for the binary so the test can change
        // its mtime without touching the real QEMU.
        std::string wrapper = tmp.path + "/qemu-system-x86_64";
        writeFileAtomic(wrapper, std::string("#!/bin/sh\nexec ") + realQemu + " \"$@\"\n", 0755);
        Paths paths = Paths::forRoot(tmp.path + "/root");

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
        std::string fake = tmp.path + "/qemu-system-x86_64";
        writeFileAtomic(fake, "#!/bin/sh\necho 'qemu: cannot do anything' >&2\nexit 1\n", 0755);
        Paths paths = Paths::forRoot(tmp.path + "/root");
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

    void testFindEmulator()
    {
        CPPUNIT_ASSERT_THROW(findEmulator("relative/qemu", "x86_64"), vd::Error);
        CPPUNIT_ASSERT_THROW(findEmulator("", "no-such-arch-xyz"), vd::Error);
        requireQemu();
        CPPUNIT_ASSERT_EQUAL(std::string(realQemu), findEmulator(realQemu, "x86_64"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuCapabilitiesTest);
