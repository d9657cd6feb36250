// SPDX-License-Identifier: LGPL-2.1-or-later
// `virt-direct serve` driven by the real virsh and by hand-made packets:
// connection procedures, keepalive, the read-only socket, socket modes,
// and robustness (garbage, oversize packets, unknown programs and
// procedures, many clients at once) -- a bad client never takes the server
// or other clients down.
#include <config.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "remote/remote_protocol.h"
#include "rpc/virnetserver.h"
#include "testnetns.h"
#include "testremote.h"
#include "testutils.h"
#include "util/vircommand.h"
#include "util/virerror.h"
#include "util/virerror.h"
#include "util/virhostinfo.h"

using vd::test::RawClient;
using vd::test::RemoteServer;

namespace {

constexpr uint32_t Remote = vd::remote::RemoteProgramNumber;

// The server still serves a normal client.
void assertServerHealthy(const RemoteServer &srv)
{
    auto r = srv.virsh({"hostname"});
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
    CPPUNIT_ASSERT_EQUAL(vd::hostName() + "\n\n", r.out);
}

vd::rpc::WireError expectError(RawClient &c, uint32_t serial)
{
    auto reply = c.receive();
    CPPUNIT_ASSERT_EQUAL(serial, reply.header.serial);
    CPPUNIT_ASSERT_EQUAL(1u, reply.header.type);   // REPLY
    CPPUNIT_ASSERT_EQUAL(1u, reply.header.status); // ERROR
    return vd::rpc::decodeErrorBody(reply.body);
}

} // namespace

class RemoteServerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RemoteServerTest);
    CPPUNIT_TEST(testVirshConnection);
    CPPUNIT_TEST(testSocketModes);
    CPPUNIT_TEST(testKeepalive);
    CPPUNIT_TEST(testUnknownProcedureAndProgram);
    CPPUNIT_TEST(testCallBeforeOpen);
    CPPUNIT_TEST(testGarbageAndOversize);
    CPPUNIT_TEST(testMalformedArguments);
    CPPUNIT_TEST(testManyClients);
    CPPUNIT_TEST(testSecondServerRefused);
    CPPUNIT_TEST(testSocketActivation);
    CPPUNIT_TEST_SUITE_END();

public:
    void testVirshConnection()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        auto uri = srv.virsh({"uri"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(uri.err, 0, uri.status);
        CPPUNIT_ASSERT_EQUAL(srv.uri() + "\n\n", uri.out);
        assertServerHealthy(srv);
        auto version = srv.virsh({"version"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(version.err, 0, version.status);
        CPPUNIT_ASSERT(version.out.find("Using API: QEMU ") != std::string::npos);
        CPPUNIT_ASSERT(version.out.find("Running hypervisor: QEMU ") != std::string::npos);
        auto node = srv.virsh({"nodeinfo"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(node.err, 0, node.status);
        vd::NodeInfo info = vd::hostNodeInfo();
        CPPUNIT_ASSERT(node.out.find("CPU model:           " + info.model + "\n") !=
                       std::string::npos);
        CPPUNIT_ASSERT(node.out.find("CPU(s):              " + std::to_string(info.cpus) +
                                     "\n") != std::string::npos);
        // The read-only socket serves the same read-only procedures.
        auto ro = srv.virsh({"hostname"}, true);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(ro.err, 0, ro.status);
    }

    void testSocketModes()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        struct stat rw, ro;
        CPPUNIT_ASSERT(stat(srv.socketPath().c_str(), &rw) == 0);
        CPPUNIT_ASSERT(stat(srv.readOnlySocketPath().c_str(), &ro) == 0);
        CPPUNIT_ASSERT(S_ISSOCK(rw.st_mode));
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(rw.st_mode & 07777));
        CPPUNIT_ASSERT_EQUAL(0666u, static_cast<unsigned>(ro.st_mode & 07777));
        // Peer checks: root passes everywhere, others only on the ro socket
        // or through the configured group.
        vd::rpc::ServerConfig config;
        vd::rpc::PeerCredentials rootPeer{1, 0, 0}, user{1, 1234, 1234};
        CPPUNIT_ASSERT(vd::rpc::peerAllowed(rootPeer, false, config));
        CPPUNIT_ASSERT(!vd::rpc::peerAllowed(user, false, config));
        CPPUNIT_ASSERT(vd::rpc::peerAllowed(user, true, config));
        config.allowedGroup = 1234;
        CPPUNIT_ASSERT(vd::rpc::peerAllowed(user, false, config));
    }

    void testKeepalive()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        RawClient c(srv.socketPath());
        c.call(vd::rpc::KeepaliveProgram, vd::rpc::KeepaliveProcPing, {},
               vd::rpc::MessageType::Message);
        auto pong = c.receive();
        CPPUNIT_ASSERT_EQUAL(vd::rpc::KeepaliveProgram, pong.header.prog);
        CPPUNIT_ASSERT_EQUAL(vd::rpc::KeepaliveProcPong, pong.header.proc);
        CPPUNIT_ASSERT_EQUAL(2u, pong.header.type); // MESSAGE
        CPPUNIT_ASSERT(pong.body.empty());
    }

    void testUnknownProcedureAndProgram()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        RawClient c(srv.socketPath());
        c.open();
        auto e = expectError(c, c.call(Remote, 99999));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_NO_SUPPORT), e.code);
        CPPUNIT_ASSERT_EQUAL(std::string("this function is not supported by the connection "
                                         "driver: unknown procedure: 99999"),
                             *e.message);
        // A known procedure virt-direct does not serve: libvirt's wording
        // with the API's name.
        e = expectError(c, c.call(Remote, 34 /* DOMAIN_SUSPEND */));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_NO_SUPPORT), e.code);
        CPPUNIT_ASSERT_EQUAL(std::string("this function is not supported by the connection "
                                         "driver: virDomainSuspend"),
                             *e.message);
        e = expectError(c, c.call(0x12345678, 1));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_RPC), e.code);
        e = expectError(c, c.call(Remote, vd::remote::ProcConnectGetHostname, {},
                                  vd::rpc::MessageType::Call, 7));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_RPC), e.code);
        // The connection is still good.
        uint32_t s = c.call(Remote, vd::remote::ProcConnectGetHostname);
        auto ok = c.receive();
        CPPUNIT_ASSERT_EQUAL(s, ok.header.serial);
        CPPUNIT_ASSERT_EQUAL(0u, ok.header.status);
    }

    void testCallBeforeOpen()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        RawClient c(srv.socketPath());
        auto e = expectError(c, c.call(Remote, vd::remote::ProcConnectGetHostname));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_INTERNAL_ERROR), e.code);
        CPPUNIT_ASSERT_EQUAL(std::string("internal error: connection not open"), *e.message);
        // An URI for another driver is refused like libvirtd does.
        vd::rpc::XdrEncoder args;
        args.putOptionalString(std::string("xen:///system"), vd::remote::RemoteStringMax);
        args.putU32(0);
        e = expectError(c, c.call(Remote, vd::remote::ProcConnectOpen, args.data()));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_NO_CONNECT), e.code);
        CPPUNIT_ASSERT_EQUAL(std::string("no connection driver available for xen:///system"),
                             *e.message);
    }

    void testGarbageAndOversize()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        {
            RawClient garbage(srv.socketPath());
            garbage.sendBytes(std::string(64, '\xff')); // length 0xffffffff
            CPPUNIT_ASSERT(garbage.waitClosed());
        }
        {
            RawClient tooShort(srv.socketPath());
            tooShort.sendBytes(std::string("\0\0\0\x05hello", 9));
            CPPUNIT_ASSERT(tooShort.waitClosed());
        }
        {
            // One byte over the limit: refused from the length alone,
            // before any of the body is read or allocated.
            RawClient oversize(srv.socketPath());
            vd::rpc::XdrEncoder len;
            len.putU32(vd::rpc::MessageMax + 1);
            oversize.sendBytes(len.data());
            CPPUNIT_ASSERT(oversize.waitClosed());
        }
        {
            // A reply sent to the server is a protocol violation.
            RawClient reply(srv.socketPath());
            reply.call(Remote, vd::remote::ProcAuthList, {}, vd::rpc::MessageType::Reply);
            CPPUNIT_ASSERT(reply.waitClosed());
        }
        {
            // A client that stops in the middle of a packet does not block
            // anybody else.
            RawClient stalled(srv.socketPath());
            stalled.sendBytes(std::string("\0\0\x01\0\x20\0", 6));
            assertServerHealthy(srv);
        }
        assertServerHealthy(srv);
        CPPUNIT_ASSERT(srv.running());
    }

    void testMalformedArguments()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        RawClient c(srv.socketPath());
        c.open();
        // SUPPORTS_FEATURE wants one int; give it three bytes.
        auto e = expectError(c, c.call(Remote, vd::remote::ProcConnectSupportsFeature,
                                       std::string("\0\0\0", 3)));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_RPC), e.code);
        // Trailing bytes after the arguments are refused too.
        e = expectError(c, c.call(Remote, vd::remote::ProcConnectGetHostname,
                                  std::string(4, '\0')));
        CPPUNIT_ASSERT_EQUAL(int32_t(VIR_ERR_RPC), e.code);
        assertServerHealthy(srv);
    }

    void testManyClients()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        // 50 real virsh processes at once, each with its own connection.
        std::vector<std::future<vd::test::RunResult>> runs;
        for (int i = 0; i < 50; ++i)
            runs.push_back(std::async(std::launch::async, [&srv] {
                return srv.virsh({"hostname"});
            }));
        for (auto &r : runs) {
            auto res = r.get();
            CPPUNIT_ASSERT_EQUAL_MESSAGE(res.err, 0, res.status);
            CPPUNIT_ASSERT_EQUAL(vd::hostName() + "\n\n", res.out);
        }
        // 50 raw connections open at the same time, answered in any order.
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 50; ++i) {
            clients.push_back(std::make_unique<RawClient>(srv.socketPath()));
            clients.back()->open();
        }
        for (auto &c : clients)
            c->call(Remote, vd::remote::ProcConnectGetHostname);
        for (auto &c : clients)
            CPPUNIT_ASSERT_EQUAL(0u, c->receive().header.status);
    }

    // Sockets passed by systemd (LISTEN_FDS, LISTEN_FDNAMES): the server
    // serves them instead of creating its own, and tells the read-only one
    // by its name.
    void testSocketActivation()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        std::string activate;
        try {
            activate = vd::findProgramInPath("systemd-socket-activate");
        } catch (const vd::Error &) {
            vd::test::skip("no systemd-socket-activate");
        }
        std::string rw = root.path() + "/act-sock", ro = root.path() + "/act-sock-ro";
        vd::Command cmd(vd::findProgramInPath("ip"),
                        {"netns", "exec", ns.name(), activate, "-l", rw, "-l", ro,
                         "--fdname=libvirt-sock:libvirt-sock-ro",
                         vd::test::buildDir() + "/tools/virt-direct", "--root", root.path(),
                         "serve"});
        cmd.setLogFile(root.path() + "/activate.log");
        vd::Child child = cmd.spawn();
        child.setTerminateGrace(std::chrono::seconds(10));
        std::string uri = "virt-direct+unix:///system?socket=" + rw;
        std::string roUri = "virt-direct+unix:///system?socket=" + ro;
        vd::test::RunResult r;
        for (int i = 0; i < 200; ++i) {
            r = vd::test::runProgram({vd::findProgramInPath("virsh"), "-c", uri, "hostname"});
            if (r.status == 0)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.err, 0, r.status);
        CPPUNIT_ASSERT_EQUAL(vd::hostName() + "\n\n", r.out);
        // It made no sockets of its own.
        CPPUNIT_ASSERT(access((root.path() + "/run/libvirt-sock").c_str(), F_OK) != 0);
        r = vd::test::runProgram({vd::findProgramInPath("virsh"), "-c", roUri, "define",
                                  "/dev/null"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT(r.err.find("read only access prevents virDomainDefineXML") !=
                       std::string::npos);
    }

    void testSecondServerRefused()
    {
        vd::test::TestNetns ns(false);
        vd::test::TempDir root;
        RemoteServer srv(ns.name(), root.path());
        auto r = srv.cli({"serve"});
        CPPUNIT_ASSERT_EQUAL(1, r.status);
        CPPUNIT_ASSERT(r.err.find("another server is already listening") != std::string::npos);
        assertServerHealthy(srv);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RemoteServerTest);
