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
    CPPUNIT_TEST_SUITE_END();

public:
    // QEMU started directly by the script.
    void testMacvtapGuestTwoNics() { runSmoke(2, false); }
    // QEMU started by the per-domain supervisor, which must report ready,
    // notice the guest's poweroff, tear down and remove its state.
    void testMacvtapGuestSupervised() { runSmoke(1, true); }
};

CPPUNIT_TEST_SUITE_REGISTRATION(E2eGuestTest);
