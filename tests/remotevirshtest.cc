// SPDX-License-Identifier: LGPL-2.1-or-later
// The real virsh and python3-libvirt drive `virt-direct serve` in a private
// network namespace with real macvtaps: the whole life cycle, the same
// output and errors as the virt-direct CLI, mixed CLI and virsh use on the
// same domains, the read-only socket, and a long start that does not hold
// up other clients' lookups.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "remote/remote_protocol.h"
#include "testnetns.h"
#include "testremote.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virfile.h"

using vd::test::RawClient;
using vd::test::RemoteServer;
using vd::test::RunResult;

namespace {

std::string dataFile(const std::string &name) { return vd::test::srcDir() + "/remotedata/" + name; }

void assertOk(const RunResult &r, const std::string &what)
{
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": " + r.err, 0, r.status);
}

bool hasLink(const vd::test::TestNetns &ns, const std::string &name)
{
    auto links = ns.links();
    return std::find(links.begin(), links.end(), name) != links.end();
}

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

// A domain with `nics` direct NICs on vdp0 (a start that takes a while).
std::string domainWithNics(const std::string &name, unsigned nics)
{
    std::string xml = "<domain type='qemu'><name>" + name +
                      "</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
                      "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>";
    for (unsigned i = 0; i < nics; ++i)
        xml += "<interface type='direct'><source dev='vdp0' mode='bridge'/>"
               "<model type='virtio'/></interface>";
    return xml + "</devices></domain>";
}

} // namespace

class RemoteVirshTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RemoteVirshTest);
    CPPUNIT_TEST(testLifecycle);
    CPPUNIT_TEST(testErrorsMatchCli);
    CPPUNIT_TEST(testMixedCliAndVirsh);
    CPPUNIT_TEST(testReadOnlySocket);
    CPPUNIT_TEST(testLongStartDoesNotBlockLookups);
    CPPUNIT_TEST(testPythonClient);
    CPPUNIT_TEST(testVirshEvents);
    CPPUNIT_TEST_SUITE_END();

public:
    void testLifecycle()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        std::string xml = dataFile("guest.xml");
        auto r = srv.virsh({"define", xml});
        assertOk(r, "define");
        CPPUNIT_ASSERT_EQUAL("Domain 'rg1' defined from " + xml + "\n\n", r.out);
        r = srv.virsh({"list", "--all"});
        assertOk(r, "list");
        CPPUNIT_ASSERT_EQUAL(std::string(" Id   Name   State\n-----------------------\n"
                                         " -    rg1    shut off\n\n"),
                             r.out);
        assertOk(r = srv.virsh({"domstate", "rg1"}), "domstate");
        CPPUNIT_ASSERT_EQUAL(std::string("shut off\n\n"), r.out);

        assertOk(r = srv.virsh({"start", "rg1"}), "start");
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'rg1' started\n\n"), r.out);
        CPPUNIT_ASSERT(hasLink(ns, "macvtap0"));
        assertOk(r = srv.virsh({"list", "--all"}), "list");
        CPPUNIT_ASSERT_EQUAL(std::string(" Id   Name   State\n----------------------\n"
                                         " 1    rg1    running\n\n"),
                             r.out);
        assertOk(r = srv.virsh({"domstate", "--reason", "rg1"}), "domstate --reason");
        CPPUNIT_ASSERT_EQUAL(std::string("running (booted)\n\n"), r.out);
        assertOk(r = srv.virsh({"dominfo", "rg1"}), "dominfo");
        for (const char *line : {"Id:             1\n", "Name:           rg1\n",
                                 "OS Type:        hvm\n", "State:          running\n",
                                 "CPU(s):         1\n", "Max memory:     131072 KiB\n",
                                 "Persistent:     yes\n", "Managed save:   no\n"})
            CPPUNIT_ASSERT_MESSAGE(line + r.out, contains(r.out, line));

        assertOk(r = srv.virsh({"dumpxml", "rg1"}), "dumpxml");
        CPPUNIT_ASSERT(contains(r.out, "<target dev='macvtap0'/>"));
        CPPUNIT_ASSERT(contains(r.out, "<domain type='qemu' id='1'>"));
        assertOk(r = srv.virsh({"dumpxml", "--inactive", "rg1"}), "dumpxml --inactive");
        CPPUNIT_ASSERT(!contains(r.out, "macvtap0"));
        CPPUNIT_ASSERT(contains(r.out, "<domain type='qemu'>"));

        assertOk(r = srv.virsh({"domiflist", "rg1"}), "domiflist");
        auto cli = srv.cli({"domiflist", "rg1"});
        assertOk(cli, "CLI domiflist");
        CPPUNIT_ASSERT_EQUAL(cli.out, r.out);
        CPPUNIT_ASSERT(contains(r.out, " macvtap0    direct   vdp0     virtio   52:54:00:12:34:01"));

        assertOk(r = srv.virsh({"domifstat", "rg1", "macvtap0"}), "domifstat");
        for (const char *c : {"rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes",
                              "tx_packets", "tx_errs", "tx_drop"})
            CPPUNIT_ASSERT(contains(r.out, std::string("macvtap0 ") + c + " "));

        assertOk(r = srv.virsh({"domif-setlink", "rg1", "macvtap0", "down"}), "setlink");
        CPPUNIT_ASSERT_EQUAL(std::string("Device updated successfully\n\n"), r.out);
        assertOk(r = srv.virsh({"domif-getlink", "rg1", "macvtap0"}), "getlink");
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap0 down\n"), r.out);
        assertOk(cli = srv.cli({"domif-getlink", "rg1", "52:54:00:12:34:01"}), "CLI getlink");
        CPPUNIT_ASSERT(contains(cli.out, "down"));
        assertOk(r = srv.virsh({"domif-setlink", "rg1", "52:54:00:12:34:01", "up"}), "setlink up");
        assertOk(r = srv.virsh({"domif-getlink", "rg1", "macvtap0"}), "getlink");
        CPPUNIT_ASSERT_EQUAL(std::string("macvtap0 up\n"), r.out);

        assertOk(r = srv.virsh({"shutdown", "rg1"}), "shutdown");
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'rg1' is being shutdown\n\n"), r.out);
        assertOk(r = srv.virsh({"destroy", "rg1"}), "destroy");
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'rg1' destroyed\n\n"), r.out);
        CPPUNIT_ASSERT(!hasLink(ns, "macvtap0"));
        assertOk(r = srv.virsh({"domstate", "rg1"}), "domstate");
        CPPUNIT_ASSERT_EQUAL(std::string("shut off\n\n"), r.out);
        assertOk(r = srv.virsh({"undefine", "rg1"}), "undefine");
        CPPUNIT_ASSERT_EQUAL(std::string("Domain 'rg1' has been undefined\n\n"), r.out);
        assertOk(r = srv.virsh({"list", "--all", "--name"}), "list");
        CPPUNIT_ASSERT_EQUAL(std::string("\n"), r.out);
    }

    // The same failing command through the CLI and through virsh: the same
    // error lines.
    void testErrorsMatchCli()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        std::string bad = dataFile("bad-mode.xml");
        auto v = srv.virsh({"define", bad});
        auto c = srv.cli({"define", bad});
        CPPUNIT_ASSERT_EQUAL(1, v.status);
        CPPUNIT_ASSERT_EQUAL(1, c.status);
        CPPUNIT_ASSERT_EQUAL(c.err, v.err);

        assertOk(srv.virsh({"define", dataFile("guest.xml")}), "define");
        assertOk(srv.virsh({"start", "rg1"}), "start");
        // virsh 9.0 checks this itself, without the name (the CLI names the
        // domain, as later virsh versions do).
        v = srv.virsh({"start", "rg1"});
        CPPUNIT_ASSERT_EQUAL(1, v.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Domain is already active\n"), v.err);
        v = srv.virsh({"undefine", "nosuch"});
        CPPUNIT_ASSERT_EQUAL(1, v.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: failed to get domain 'nosuch'\n"), v.err);
        // virsh 9.0 finds the NIC in the XML itself (the CLI words this
        // like later virsh versions: "interface (mac: ...) not found").
        v = srv.virsh({"domif-setlink", "rg1", "52:54:00:99:99:99", "down"});
        CPPUNIT_ASSERT_EQUAL(1, v.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: interface '52:54:00:99:99:99' not found\n"),
                             v.err);
        assertOk(srv.virsh({"destroy", "rg1"}), "destroy");
        v = srv.virsh({"destroy", "rg1"});
        c = srv.cli({"destroy", "rg1"});
        CPPUNIT_ASSERT_EQUAL(1, v.status);
        CPPUNIT_ASSERT_EQUAL(c.err, v.err);
    }

    void testMixedCliAndVirsh()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        assertOk(srv.cli({"define", dataFile("guest.xml")}), "CLI define");
        // Visible to virsh at once, and the other way round.
        auto r = srv.virsh({"list", "--all"});
        assertOk(r, "list");
        auto cli = srv.cli({"list", "--all"});
        CPPUNIT_ASSERT_EQUAL(cli.out, r.out);
        assertOk(srv.virsh({"start", "rg1"}), "virsh start");
        assertOk(cli = srv.cli({"list"}), "CLI list");
        assertOk(r = srv.virsh({"list"}), "virsh list");
        CPPUNIT_ASSERT_EQUAL(cli.out, r.out);
        CPPUNIT_ASSERT(contains(r.out, " 1    rg1    running"));
        assertOk(cli = srv.cli({"dumpxml", "rg1"}), "CLI dumpxml");
        assertOk(r = srv.virsh({"dumpxml", "rg1"}), "virsh dumpxml");
        // The same document; virsh prints a blank line after it.
        CPPUNIT_ASSERT_EQUAL(cli.out + "\n", r.out);
        assertOk(srv.cli({"destroy", "rg1"}), "CLI destroy");
        assertOk(r = srv.virsh({"domstate", "rg1"}), "domstate");
        CPPUNIT_ASSERT_EQUAL(std::string("shut off\n\n"), r.out);
        CPPUNIT_ASSERT(!hasLink(ns, "macvtap0"));
        assertOk(srv.virsh({"undefine", "rg1"}), "virsh undefine");
        assertOk(cli = srv.cli({"list", "--all"}), "CLI list");
        CPPUNIT_ASSERT(!contains(cli.out, "rg1"));
    }

    void testReadOnlySocket()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        assertOk(srv.cli({"define", dataFile("guest.xml")}), "CLI define");
        auto r = srv.virsh({"list", "--all"}, true);
        assertOk(r, "ro list");
        CPPUNIT_ASSERT(contains(r.out, "rg1"));
        assertOk(srv.virsh({"dumpxml", "rg1"}, true), "ro dumpxml");
        r = srv.virsh({"start", "rg1"}, true);
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error: Failed to start domain 'rg1'\n"
                                         "error: operation forbidden: read only access "
                                         "prevents virDomainCreate\n"),
                             r.err);
        r = srv.virsh({"undefine", "rg1"}, true);
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT(contains(r.err, "read only access prevents virDomainUndefine"));
        assertOk(r = srv.virsh({"domstate", "rg1"}), "domstate");
        CPPUNIT_ASSERT_EQUAL(std::string("shut off\n\n"), r.out);
    }

    // A start of a domain with many NICs runs on a worker: lookups from
    // other clients -- and from the same one -- are answered meanwhile.
    void testLongStartDoesNotBlockLookups()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        std::string xmlPath = root.path() + "/big.xml";
        vd::writeFileAtomic(xmlPath, domainWithNics("big", 60));
        assertOk(srv.cli({"define", xmlPath}), "define big");
        assertOk(srv.cli({"define", dataFile("guest.xml")}), "define rg1");
        constexpr uint32_t Remote = vd::remote::RemoteProgramNumber;
        RawClient starter(srv.socketPath()), other(srv.socketPath());
        starter.open();
        other.open();
        vd::rpc::XdrEncoder dom;
        vd::remote::putDomain(dom, {"big", {}, -1});
        uint32_t startSerial = starter.call(Remote, vd::remote::ProcDomainCreate, dom.data());
        vd::rpc::XdrEncoder name;
        name.putString("rg1", vd::remote::RemoteStringMax);
        uint32_t sameClient = starter.call(Remote, vd::remote::ProcDomainLookupByName, name.data());
        other.call(Remote, vd::remote::ProcDomainLookupByName, name.data());
        auto otherReply = other.receive(60000);
        CPPUNIT_ASSERT_EQUAL(0u, otherReply.header.status);
        // On the starting connection the lookup's reply overtakes the start's.
        auto first = starter.receive(60000);
        CPPUNIT_ASSERT_EQUAL(sameClient, first.header.serial);
        auto second = starter.receive(120000);
        CPPUNIT_ASSERT_EQUAL(startSerial, second.header.serial);
        CPPUNIT_ASSERT_EQUAL(0u, second.header.status);
        assertOk(srv.cli({"destroy", "big"}), "destroy big");
    }

    // `virsh event --loop` sees every life-cycle change, whoever made it.
    void testVirshEvents()
    {
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        std::string log = root.path() + "/events.txt";
        vd::Command cmd(vd::findProgramInPath("virsh"),
                        {"-c", srv.uri(), "event", "--loop", "--event", "lifecycle"});
        cmd.setLogFile(log);
        vd::Child watcher = cmd.spawn();
        auto logText = [&] {
            try {
                return vd::test::readText(log);
            } catch (...) {
                return std::string();
            }
        };
        auto waitFor = [&](const std::string &line) {
            for (int i = 0; i < 3000 && !contains(logText(), line); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            CPPUNIT_ASSERT_MESSAGE(line + " missing in:\n" + logText(), contains(logText(), line));
        };
        // Once a definition shows up, virsh is listening.
        std::string probe = root.path() + "/probe.xml";
        std::string xml = vd::test::readText(dataFile("guest.xml"));
        xml.replace(xml.find("rg1"), 3, "probe");
        xml.erase(xml.find("<mac"), xml.find("/>", xml.find("<mac")) + 2 - xml.find("<mac"));
        vd::writeFileAtomic(probe, xml);
        for (int i = 0; i < 500 && !contains(logText(), "'probe': Defined Added"); ++i) {
            srv.cli({"define", probe});
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            srv.cli({"undefine", "probe"});
        }
        assertOk(srv.virsh({"define", dataFile("guest.xml")}), "define");
        assertOk(srv.virsh({"start", "rg1"}), "start");
        assertOk(srv.virsh({"destroy", "rg1"}), "destroy");
        assertOk(srv.cli({"start", "rg1"}), "CLI start");
        assertOk(srv.cli({"destroy", "rg1"}), "CLI destroy");
        assertOk(srv.virsh({"undefine", "rg1"}), "undefine");
        waitFor("event 'lifecycle' for domain 'rg1': Undefined Removed\n");
        std::string text = logText();
        std::string expected = "event 'lifecycle' for domain 'rg1': Defined Added\n"
                               "event 'lifecycle' for domain 'rg1': Started Booted\n"
                               "event 'lifecycle' for domain 'rg1': Stopped Destroyed\n"
                               "event 'lifecycle' for domain 'rg1': Started Booted\n"
                               "event 'lifecycle' for domain 'rg1': Stopped Shutdown\n"
                               "event 'lifecycle' for domain 'rg1': Undefined Removed\n";
        CPPUNIT_ASSERT_EQUAL(expected, text.substr(text.find("event 'lifecycle' for domain 'rg1'")));
    }

    void testPythonClient()
    {
        std::string python = vd::test::pythonWithLibvirt();
        vd::test::TestNetns ns;
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        auto r = vd::test::runProgram({python, dataFile("pyclient.py"), srv.uri(),
                                       dataFile("guest.xml")});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err + r.out, 0, r.status);
        vd::test::checkGolden(dataFile("pyclient.out"), r.out);
        CPPUNIT_ASSERT(!hasLink(ns, "macvtap0"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RemoteVirshTest);
