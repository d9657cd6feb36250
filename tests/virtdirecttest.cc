// Drives the virt-direct binary with --root in a private temporary directory:
// the configuration commands and their error behaviour.
#include <config.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

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
    CPPUNIT_TEST(testManPageCoversEveryCommand);
    CPPUNIT_TEST(testUnknownDomain);
    CPPUNIT_TEST(testUsageErrors);
    CPPUNIT_TEST(testLinkErrors);
    CPPUNIT_TEST(testDomxmlToNative);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override { root_ = std::make_unique<vd::test::TempDir>(); }
    void tearDown() override { root_.reset(); }

    RunResult vd(const std::vector<std::string> &args)
    {
        return vd::test::runVirtDirect("", root_->path(), args);
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
        // PCI addresses are fixed at define time, as libvirt does.
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("<address type='pci' domain='0x0000' bus='0x00' "
                                                 "slot='0x02' function='0x0'/>") !=
                                          std::string::npos);

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
        // virsh's line for the failed action, then libvirt's error.
        CPPUNIT_ASSERT_EQUAL("error: Failed to define domain from " + data("bad-mode.xml") +
                                 "\nerror: XML error: Invalid value for attribute 'mode' in "
                                 "element 'source': 'bogus'.\n",
                             r.err);
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
        // Also names no domain can have: unknown like any other, and never
        // turned into a path outside the state directories.
        for (const char *cmd : {"dumpxml", "undefine", "destroy", "start", "domiflist"}) {
            for (std::string name : {"nosuch", "../nosuch", ".nosuch"}) {
                auto r = vd({cmd, name});
                CPPUNIT_ASSERT_EQUAL(1, r.status);
                CPPUNIT_ASSERT_EQUAL(std::string("error: failed to get domain '" + name +
                                                 "'\nerror: Domain not found: no domain with "
                                                 "matching name '" + name + "'\n"),
                                     r.err);
            }
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
        // virsh's own errors, without a libvirt prefix like "invalid argument: ".
        CPPUNIT_ASSERT_EQUAL(std::string("error: command 'list' doesn't support option --bogus\n"),
                             r.err);
        r = vd({"list", "extra"});
        CPPUNIT_ASSERT_EQUAL(std::string("error: unexpected data 'extra'\n"), r.err);
        CPPUNIT_ASSERT_EQUAL(0, vd({"--help"}).status);
    }

    // domif-getlink/-setlink report like virsh (which looks the interface
    // up in the domain XML itself).
    // docs/virt-direct.1 has a ".SS NAME" subsection for every command the
    // help lists, mentioning each of its --options.
    void testManPageCoversEveryCommand()
    {
        std::string man = vd::test::readText(vd::test::srcDir() + "/../docs/virt-direct.1");
        auto help = vd({"--help"});
        CPPUNIT_ASSERT_EQUAL(0, help.status);
        std::istringstream lines(help.out.substr(help.out.find("Commands:")));
        std::string line;
        std::getline(lines, line);
        unsigned commands = 0;
        while (std::getline(lines, line)) {
            // "  SYNOPSIS   help"; a long synopsis puts the help on an
            // indented line of its own.
            if (line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ')
                continue;
            std::istringstream words(line.substr(2, line.find("  ", 2) - 2));
            std::string name, word;
            if (!(words >> name))
                continue;
            ++commands;
            size_t at = man.find("\n.SS " + name + "\n");
            CPPUNIT_ASSERT_MESSAGE("no '.SS " + name + "' in docs/virt-direct.1",
                                   at != std::string::npos);
            size_t end = std::min(man.find("\n.SS ", at + 1), man.find("\n.SH ", at + 1));
            std::string section = man.substr(at, end - at);
            while (words >> word) {
                size_t dash = word.find("--");
                if (dash == std::string::npos)
                    continue;
                std::string opt = word.substr(dash + 2);
                opt = opt.substr(0, opt.find_first_not_of("abcdefghijklmnopqrstuvwxyz-"));
                CPPUNIT_ASSERT_MESSAGE("docs/virt-direct.1 does not describe " + name + " --" + opt,
                                       section.find("\\-\\-" + opt) != std::string::npos);
            }
        }
        CPPUNIT_ASSERT(commands >= 10);
    }

    void testLinkErrors()
    {
        vd::test::hostQemu(); // define probes the emulator
        CPPUNIT_ASSERT_EQUAL(0, vd({"define", data("guest1.xml")}).status);
        auto r = vd({"domif-getlink", "guest1", "52:54:00:aa:bb:02"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, std::string("52:54:00:aa:bb:02 up\n"), r.out);
        r = vd({"domif-getlink", "guest1", "nosuch0"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Interface (dev: nosuch0) not found.\n"), r.err);
        r = vd({"domif-getlink", "guest1", "52:54:00:AA:BB:99"});
        CPPUNIT_ASSERT_EQUAL(
            std::string("error: Interface (mac: 52:54:00:aa:bb:99) not found.\n"), r.err);
        r = vd({"domif-setlink", "guest1", "nosuch0", "sideways"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: invalid link state 'sideways'\n"), r.err);
        r = vd({"domif-setlink", "guest1", "nosuch0", "up"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: interface (target: nosuch0) not found\n"), r.err);
        r = vd({"domif-setlink", "guest1", "52:54:00:aa:bb:99", "up"});
        CPPUNIT_ASSERT_EQUAL(
            std::string("error: interface (mac: 52:54:00:aa:bb:99) not found\n"), r.err);
        r = vd({"domif-setlink", "nosuch", "nosuch0", "sideways"});
        CPPUNIT_ASSERT_EQUAL(std::string("error: failed to get domain 'nosuch'\n"
                                         "error: Domain not found: no domain with matching "
                                         "name 'nosuch'\n"),
                             r.err);
    }

    void testDomxmlToNative()
    {
        vd::test::hostQemu(); // the command line starts with the probed emulator
        auto r = vd({"domxml-to-native", "qemu-argv", data("guest1.xml")});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        // Source and mode are shown, the fds are the ones start would use,
        // and a NIC without <mac> gets a generated one.
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("# net0: macvtap on veth0, mode bridge, tap fd 3") !=
                                          std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("\"fd\":\"4\"") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("mac=52:54:00:") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(r.out, r.out.find("mac=52:54:00:aa:bb:02") != std::string::npos);
        // Nothing was defined or created.
        CPPUNIT_ASSERT(!std::filesystem::exists(configDir()));

        r = vd({"domxml-to-native", "qemu-argv", data("bad-mode.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        r = vd({"domxml-to-native", "xen-xm", data("guest1.xml")});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
    }

private:
    std::unique_ptr<vd::test::TempDir> root_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(VirtDirectConfigTest);

} // namespace
