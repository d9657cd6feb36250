// Drives the virt-direct binary with --root in a private temporary directory:
// the configuration commands and their error behaviour.
#include <config.h>

#include <sys/stat.h>

#include <filesystem>

#include "testcommand.h"
#include "testutils.h"

namespace {

using vd::test::RunResult;

class VirtDirectConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VirtDirectConfigTest);
    CPPUNIT_TEST(testValidate);
    CPPUNIT_TEST(testValidateErrors);
    CPPUNIT_TEST(testDefineDumpList);
    CPPUNIT_TEST(testDefineKeepsIdentity);
    CPPUNIT_TEST(testFailedDefineLeavesNothing);
    CPPUNIT_TEST(testUndefine);
    CPPUNIT_TEST(testUnknownDomain);
    CPPUNIT_TEST(testUsageErrors);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override { root_ = std::make_unique<vd::test::TempDir>(); }
    void tearDown() override { root_.reset(); }

    RunResult vd(std::vector<std::string> args)
    {
        std::vector<std::string> argv{vd::test::buildDir() + "/tools/virt-direct", "--root",
                                      root_->path()};
        argv.insert(argv.end(), args.begin(), args.end());
        return vd::test::runProgram(argv);
    }
    static std::string data(const std::string &name)
    {
        return vd::test::srcDir() + "/virtdirectdata/" + name;
    }
    std::string configDir() const { return root_->path() + "/etc/qemu"; }

    void testValidate()
    {
        auto r = vd({"validate", data("guest1.xml")});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(data("guest1.xml") + " validates\n", r.out);
    }

    void testValidateErrors()
    {
        auto r = vd({"validate", data("bad-mode.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: XML error: Invalid value for attribute 'mode' "
                                         "in element 'source': 'bogus'.\n"),
                             r.err);

        r = vd({"validate", data("unsupported-net.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_MESSAGE(r.err, r.err.rfind("error: unsupported configuration: ", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(r.err, r.err.find("network") != std::string::npos);

        r = vd({"validate", data("not-wellformed.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_MESSAGE(r.err, r.err.rfind("error: ", 0) == 0);

        r = vd({"validate", data("does-not-exist.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_MESSAGE(r.err, r.err.find("No such file or directory") != std::string::npos);
    }

    void testDefineDumpList()
    {
        auto r = vd({"define", data("guest1.xml")});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL("Domain 'guest1' defined from " + data("guest1.xml") + "\n\n", r.out);

        struct stat st;
        CPPUNIT_ASSERT_EQUAL(0, ::stat((configDir() + "/guest1.xml").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 0777));

        r = vd({"dumpxml", "guest1"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        // The MAC was generated, the auto-generated target name is dropped and
        // the user-chosen one kept.
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<mac address='52:54:00:") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("macvtap7") == std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<target dev='mytap0'/>") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<uuid>") != std::string::npos);

        r = vd({"define", data("guest2.xml")});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        r = vd({"list", "--all"});
        CPPUNIT_ASSERT_EQUAL(0, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string(" Id   Name     State\n"
                                         "-------------------------\n"
                                         " -    guest1   shut off\n"
                                         " -    guest2   shut off\n\n"),
                             r.out);
        r = vd({"list"});
        CPPUNIT_ASSERT_EQUAL(std::string(" Id   Name   State\n--------------------\n\n"), r.out);
    }

    void testDefineKeepsIdentity()
    {
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", data("guest1.xml")}).status);
        auto first = vd({"dumpxml", "guest1"}).out;
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", data("guest1.xml")}).status);
        auto second = vd({"dumpxml", "guest1"}).out;
        auto uuidOf = [](const std::string &x) {
            auto b = x.find("<uuid>");
            return x.substr(b, x.find("</uuid>") - b);
        };
        CPPUNIT_ASSERT_EQUAL(uuidOf(first), uuidOf(second));
    }

    void testFailedDefineLeavesNothing()
    {
        auto r = vd({"define", data("bad-mode.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT(!std::filesystem::exists(configDir() + "/guest1.xml"));

        // An existing definition survives a failed redefinition untouched.
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", data("guest1.xml")}).status);
        auto before = vd::test::readText(configDir() + "/guest1.xml");
        CPPUNIT_ASSERT_EQUAL(1, vd({"define", data("bad-mode.xml")}).status);
        CPPUNIT_ASSERT_EQUAL(before, vd::test::readText(configDir() + "/guest1.xml"));
        size_t files = 0;
        for (const auto &e : std::filesystem::directory_iterator(configDir())) {
            (void)e;
            ++files;
        }
        CPPUNIT_ASSERT_EQUAL(size_t(1), files);
    }

    void testUndefine()
    {
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", data("guest1.xml")}).status);
        auto r = vd({"undefine", "guest1"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'guest1' has been undefined\n\n"), r.out);
        CPPUNIT_ASSERT(!std::filesystem::exists(configDir() + "/guest1.xml"));
    }

    void testUnknownDomain()
    {
        for (const char *cmd : {"dumpxml", "undefine"}) {
            auto r = vd({cmd, "nosuch"});
            CPPUNIT_ASSERT_EQUAL(1, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("error: failed to get domain 'nosuch'\n"
                                             "error: Domain not found: no domain with matching "
                                             "name 'nosuch'\n"),
                                 r.err);
        }
    }

    void testUsageErrors()
    {
        auto r = vd({"frobnicate"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: unknown command: 'frobnicate'\n"), r.err);
        r = vd({"define"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        r = vd({"list", "--bogus"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(0, vd({"--help"}).status);
    }

private:
    std::unique_ptr<vd::test::TempDir> root_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirtDirectConfigTest);

} // namespace
