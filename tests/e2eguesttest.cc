// End-to-end smoke test: a real guest (TCG) on a macvtap in a private
// network namespace pings its peer and sends a UDP datagram.  The work is
// done by tests/guest/e2e-smoke.sh (which the lead's `virt-direct start`
// e2e test can build on); this suite runs it and reports skip/fail.
//
// The guest kit is cached in $VD_GUEST_CACHE (default
// /var/tmp/virt-direct-guest) and built on first use with apt-get download.
// VD_SKIP_E2E=1 skips the suite.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"

namespace {

std::string guestCache()
{
    const char *c = std::getenv("VD_GUEST_CACHE");
    return c && *c ? c : "/var/tmp/virt-direct-guest";
}

void runSmoke(int nics, bool supervised)
{
    if (const char *s = std::getenv("VD_SKIP_E2E"); s && *s && std::string(s) != "0")
        vd::test::skip("VD_SKIP_E2E is set");
    if (!vd::test::isRoot())
        vd::test::skip("needs root (network namespaces)");
    vd::Command cmd("bash", {vd::test::srcDir() + "/guest/e2e-smoke.sh", guestCache(),
                             std::to_string(nics)});
    if (supervised)
        cmd.addEnv("VD_E2E_SUPERVISOR=" + vd::test::buildDir() + "/tests/vdsupervisorhelper");
    auto out = cmd.run(std::chrono::seconds(600));
    if (out.status.exited() && out.status.exitCode() == 77)
        vd::test::skip(out.output.substr(0, out.output.find('\n')));
    CPPUNIT_ASSERT_MESSAGE(out.status.describe() + "\n" + out.output, out.status.success());
    CPPUNIT_ASSERT_MESSAGE(out.output, out.output.find("PASS:") != std::string::npos);
    if (supervised)
        CPPUNIT_ASSERT_MESSAGE(out.output, out.output.find("teardown ran") != std::string::npos);
}

} // namespace

class E2eGuestTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(E2eGuestTest);
    CPPUNIT_TEST(testMacvtapGuestTwoNics);
    CPPUNIT_TEST(testMacvtapGuestSupervised);
    CPPUNIT_TEST(testVirtDirectCreate);
    CPPUNIT_TEST(testVirtDirectLinkAndDestroy);
    CPPUNIT_TEST_SUITE_END();

public:
    // QEMU started directly by the script.
    void testMacvtapGuestTwoNics() { runSmoke(2, false); }
    // QEMU started by the per-domain supervisor, which must report ready,
    // notice the guest's poweroff, tear down and remove its state.
    void testMacvtapGuestSupervised() { runSmoke(1, true); }

    // The real thing: `virt-direct create` of a domain with two direct NICs
    // (tests/guest/e2e-virt-direct.sh); the guest pings, sends, powers off,
    // and nothing may be left: no macvtap, no runtime state.
    void testVirtDirectCreate() { runVirtDirect({"2"}); }

    // domif-setlink down/up must stop and resume a running guest's pings;
    // destroy must end it and leave nothing behind.
    void testVirtDirectLinkAndDestroy() { runVirtDirect({"1", "lifecycle"}); }

private:
    static void runVirtDirect(const std::vector<std::string> &args)
    {
        if (const char *s = std::getenv("VD_SKIP_E2E"); s && *s && std::string(s) != "0")
            vd::test::skip("VD_SKIP_E2E is set");
        if (!vd::test::isRoot())
            vd::test::skip("needs root (network namespaces)");
        std::vector<std::string> all{vd::test::srcDir() + "/guest/e2e-virt-direct.sh",
                                     guestCache(), vd::test::buildDir() + "/tools/virt-direct"};
        all.insert(all.end(), args.begin(), args.end());
        auto out = vd::Command("bash", all).run(std::chrono::seconds(600));
        if (out.status.exited() && out.status.exitCode() == 77)
            vd::test::skip(out.output.substr(0, out.output.find('\n')));
        CPPUNIT_ASSERT_MESSAGE(out.status.describe() + "\n" + out.output, out.status.success());
        CPPUNIT_ASSERT_MESSAGE(out.output, out.output.find("PASS") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(E2eGuestTest);
