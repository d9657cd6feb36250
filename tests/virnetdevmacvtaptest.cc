// macvtap lifecycle against the real kernel, each test in its own private
// network namespace with a veth parent (tests/testnetns.h).
#include <config.h>

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "testnetns.h"
#include "testcommand.h"
#include "testutils.h"
#include "util/virerror.h"
#include "util/virnetdevmacvtap.h"

using namespace vd;

namespace {

std::optional<LinkInfo> findLink(NetlinkSocket &nl, const std::string &name)
{
    for (auto &l : dumpLinks(nl))
        if (l.name == name)
            return l;
    return std::nullopt;
}

std::set<std::string> linkNames(NetlinkSocket &nl)
{
    std::set<std::string> s;
    for (auto &l : dumpLinks(nl))
        s.insert(l.name);
    return s;
}

MacAddr mac(unsigned last)
{
    MacAddr m = *MacAddr::parse("52:54:00:00:00:00");
    m.bytes[4] = static_cast<unsigned char>(last >> 8);
    m.bytes[5] = static_cast<unsigned char>(last);
    return m;
}

MacvtapRequest req(unsigned n, MacvlanMode mode = MacvlanMode::Bridge)
{
    MacvtapRequest r;
    r.parent = test::TestNetns::parent();
    r.mode = mode;
    r.mac = mac(n + 1);
    return r;
}

std::vector<MacvtapRecord> recordsOf(const std::vector<MacvtapResult> &res)
{
    std::vector<MacvtapRecord> out;
    for (auto &r : res)
        out.push_back(r.record);
    return out;
}

std::vector<UniqueFd> takeFds(std::vector<MacvtapResult> &res)
{
    std::vector<UniqueFd> out;
    for (auto &r : res)
        for (auto &fd : r.tapFds)
            out.push_back(std::move(fd));
    return out;
}

using TmpDir = vd::test::TempDir;

// Run `ip` inside the current (child's) namespace.
void ipHere(const std::vector<std::string> &args)
{
    std::string out;
    if (runIp(args, {}, &out) != 0)
        throw std::runtime_error("ip failed: " + out);
}

class MacvtapTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MacvtapTest);
    CPPUNIT_TEST(testCreateDeleteEveryMode);
    CPPUNIT_TEST(testMacvlanKind);
    CPPUNIT_TEST(testMtu);
    CPPUNIT_TEST(testFdsAndMultiqueue);
    CPPUNIT_TEST(testTapNodeChoice);
    CPPUNIT_TEST(testTapWaitIsBounded);
    CPPUNIT_TEST(testSetUp);
    CPPUNIT_TEST(testTrafficThroughTapFd);
    CPPUNIT_TEST(testSkipsNamesCreatedByIp);
    CPPUNIT_TEST(testEexistRetry);
    CPPUNIT_TEST(testAltNamesAreTaken);
    CPPUNIT_TEST(testPoolExhausted);
    CPPUNIT_TEST(testPoolExhaustedOnRetry);
    CPPUNIT_TEST(testConcurrentForeignCreator);
    CPPUNIT_TEST(testThreadsAllocateConcurrently);
    CPPUNIT_TEST(testTwoProcessesAllocateConcurrently);
    CPPUNIT_TEST(testTwoProcessesRaceWithoutState);
    CPPUNIT_TEST(testRollbackAtEveryFaultPoint);
    CPPUNIT_TEST(testRollbackPassthroughRestoresParentMac);
    CPPUNIT_TEST(testMissingParent);
    CPPUNIT_TEST(testKernelRefusesSecondPassthrough);
    CPPUNIT_TEST(testUserNameCollisionLeavesForeignDevice);
    CPPUNIT_TEST(testUserNameTemplate);
    CPPUNIT_TEST(testReservationSurvivesRestart);
    CPPUNIT_TEST(testTeardownByGroup);
    CPPUNIT_TEST(testTeardownFallsBackWithForeignGroupMember);
    CPPUNIT_TEST(testTeardownVanishedAndReplaced);
    CPPUNIT_TEST(testLinkNotifications);
    CPPUNIT_TEST_SUITE_END();

public:
    void testCreateDeleteEveryMode()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            auto parentBefore = findLink(nl, test::TestNetns::parent());
            const std::pair<MacvlanMode, uint32_t> modes[] = {
                {MacvlanMode::Vepa, MACVLAN_MODE_VEPA},
                {MacvlanMode::Bridge, MACVLAN_MODE_BRIDGE},
                {MacvlanMode::Private, MACVLAN_MODE_PRIVATE},
                {MacvlanMode::Passthrough, MACVLAN_MODE_PASSTHRU},
                {MacvlanMode::Source, MACVLAN_MODE_SOURCE},
            };
            unsigned n = 0;
            for (auto [mode, kmode] : modes) {
                MacvtapRequest r = req(n++, mode);
                if (mode == MacvlanMode::Source)
                    r.sourceMacs = {mac(100), mac(101)};
                MacvtapTransaction tx(nl, {});
                auto &res = tx.prepare({r});
                CPPUNIT_ASSERT_EQUAL(size_t(1), res.size());
                const auto rec = res[0].record;
                CPPUNIT_ASSERT(rec.autoNamed);
                CPPUNIT_ASSERT(rec.ifindex > 0);
                auto l = findLink(nl, rec.ifname);
                CPPUNIT_ASSERT(l);
                CPPUNIT_ASSERT_EQUAL(rec.ifindex, l->ifindex);
                CPPUNIT_ASSERT_EQUAL(std::string("macvtap"), l->kind);
                CPPUNIT_ASSERT_EQUAL(kmode, *l->macvlanMode);
                CPPUNIT_ASSERT_EQUAL(r.mac.str(), l->mac->str());
                CPPUNIT_ASSERT_EQUAL(parentBefore->ifindex, l->parentIndex);
                if (mode == MacvlanMode::Passthrough) {
                    CPPUNIT_ASSERT_EQUAL(parentBefore->mac->str(), rec.savedParentMac->str());
                    CPPUNIT_ASSERT_EQUAL(r.mac.str(),
                                         findLink(nl, test::TestNetns::parent())->mac->str());
                }
                auto done = tx.commit();
                auto rep = macvtapTeardown(nl, recordsOf(done), takeFds(done), nullptr, "");
                CPPUNIT_ASSERT_EQUAL(size_t(1), rep.singleDeletes);
                CPPUNIT_ASSERT(!findLink(nl, rec.ifname));
                // Passthrough gave the parent its MAC back.
                CPPUNIT_ASSERT_EQUAL(parentBefore->mac->str(),
                                     findLink(nl, test::TestNetns::parent())->mac->str());
            }
        });
    }

    void testMacvlanKind()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapRequest r = req(0);
            r.kind = MacvtapKind::Macvlan;
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({r});
            CPPUNIT_ASSERT_EQUAL(std::string("macvlan0"), res[0].record.ifname);
            CPPUNIT_ASSERT(res[0].tapFds.empty());
            CPPUNIT_ASSERT_EQUAL(std::string("macvlan"), findLink(nl, "macvlan0")->kind);
            // No commit: the transaction's destructor removes it.
        });
        CPPUNIT_ASSERT_EQUAL(size_t(3), ns.links().size()); // lo, vdp0, vdp1
    }

    void testMtu()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapRequest r = req(0);
            r.mtu = 1400;
            {
                MacvtapTransaction tx(nl, {});
                auto &res = tx.prepare({r});
                CPPUNIT_ASSERT_EQUAL(1400u, findLink(nl, res[0].record.ifname)->mtu);
            }
            auto before = linkNames(nl);
            size_t fds = test::countOpenFds();
            r.mtu = 9000; // the veth parent has 1500
            MacvtapTransaction tx(nl, {});
            try {
                tx.prepare({req(1), r});
                CPPUNIT_FAIL("MTU above the parent's accepted");
            } catch (const Error &e) {
                CPPUNIT_ASSERT_EQUAL(VIR_ERR_CONFIG_UNSUPPORTED, e.code());
                std::string msg = e.what();
                CPPUNIT_ASSERT_MESSAGE(msg, msg.find("9000") != std::string::npos);
                CPPUNIT_ASSERT_MESSAGE(msg, msg.find("vdp0") != std::string::npos);
            }
            CPPUNIT_ASSERT(before == linkNames(nl));
            CPPUNIT_ASSERT_EQUAL(fds, test::countOpenFds());
        });
    }

    void testFdsAndMultiqueue()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapRequest r1 = req(0);
            r1.queues = 4;
            MacvtapRequest r2 = req(1);
            r2.vnetHdr = false;
            // Private nodes go into a directory of this test's own, so the
            // check below does not see other processes' (/dev is shared).
            char nodeDir[] = "/dev/vdtest-nodes-XXXXXX";
            CPPUNIT_ASSERT(::mkdtemp(nodeDir));
            struct RemoveDir {
                const char *path;
                ~RemoveDir() { ::rmdir(path); }
            } removeNodeDir{nodeDir};
            MacvtapOptions opts;
            opts.nodeDir = nodeDir;
            MacvtapTransaction tx(nl, opts);
            auto &res = tx.prepare({r1, r2});
            CPPUNIT_ASSERT_EQUAL(size_t(4), res[0].tapFds.size());
            CPPUNIT_ASSERT_EQUAL(size_t(1), res[1].tapFds.size());
            for (size_t i = 0; i < 2; ++i) {
                const auto &rec = res[i].record;
                std::string devPath = "/sys/class/net/" + rec.ifname + "/macvtap/tap" +
                                      std::to_string(rec.ifindex) + "/dev";
                std::string dev = test::readText(devPath);
                for (auto &fd : res[i].tapFds) {
                    CPPUNIT_ASSERT(fd);
                    CPPUNIT_ASSERT(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC);
                    struct stat st;
                    CPPUNIT_ASSERT_EQUAL(0, ::fstat(fd.get(), &st));
                    CPPUNIT_ASSERT(S_ISCHR(st.st_mode));
                    CPPUNIT_ASSERT_EQUAL(dev, std::to_string(major(st.st_rdev)) + ":" +
                                                  std::to_string(minor(st.st_rdev)) + "\n");
                    ifreq ifr{};
                    CPPUNIT_ASSERT_EQUAL(0, ::ioctl(fd.get(), TUNGETIFF, &ifr));
                    bool vnet = ifr.ifr_flags & IFF_VNET_HDR;
                    bool mq = ifr.ifr_flags & IFF_MULTI_QUEUE;
                    CPPUNIT_ASSERT_EQUAL(i == 0, vnet);
                    CPPUNIT_ASSERT_EQUAL(i == 0, mq);
                }
            }
            // No private node (or its directory) is left.
            CPPUNIT_ASSERT(std::filesystem::is_empty(nodeDir));
        });
    }

    // /dev/tap<ifindex> is used only when it is the device sysfs names: a
    // node of another namespace's macvtap with the same ifindex is ignored.
    void testTapNodeChoice()
    {
        test::TestNetns ns;
        ns.run([] {
            // A /dev of our own (we are in a private mount namespace).
            CPPUNIT_ASSERT_EQUAL(0, ::mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755"));
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({req(0)}); // private node (no /dev/tapN)
            const auto rec = res[0].record;
            struct stat st;
            CPPUNIT_ASSERT_EQUAL(0, ::fstat(res[0].tapFds[0].get(), &st));
            dev_t right = st.st_rdev;
            std::string node = "/dev/tap" + std::to_string(rec.ifindex);

            // The right node: used as is, so an unusable nodeDir is fine.
            CPPUNIT_ASSERT_EQUAL(0, ::mknod(node.c_str(), S_IFCHR | 0600, right));
            auto fds = macvtapOpenTap(rec.ifname, rec.ifindex, 1, true, "/nonexistent");
            CPPUNIT_ASSERT_EQUAL(size_t(1), fds.size());

            // A wrong node (another device's number): not trusted.
            ::unlink(node.c_str());
            CPPUNIT_ASSERT_EQUAL(0, ::mknod(node.c_str(), S_IFCHR | 0600,
                                            makedev(major(right), minor(right) + 1000)));
            CPPUNIT_ASSERT_THROW(macvtapOpenTap(rec.ifname, rec.ifindex, 1, true, "/nonexistent"),
                                 SystemError);
            fds = macvtapOpenTap(rec.ifname, rec.ifindex, 2, true, "/dev");
            CPPUNIT_ASSERT_EQUAL(size_t(2), fds.size());
            for (auto &fd : fds) {
                CPPUNIT_ASSERT_EQUAL(0, ::fstat(fd.get(), &st));
                CPPUNIT_ASSERT(st.st_rdev == right);
            }
            // Only the planted node is left in /dev.
            size_t entries = 0;
            for (auto &e : std::filesystem::directory_iterator("/dev")) {
                (void)e;
                ++entries;
            }
            CPPUNIT_ASSERT_EQUAL(size_t(1), entries);
        });
    }

    // A tap whose sysfs entry never appears fails after the bounded wait.
    void testTapWaitIsBounded()
    {
        test::TestNetns ns;
        ns.run([] {
            auto t0 = std::chrono::steady_clock::now();
            try {
                macvtapOpenTap("nosuchtap", 4242, 1, true, "/dev", 100);
                CPPUNIT_FAIL("tap of a missing device opened");
            } catch (const SystemError &e) {
                CPPUNIT_ASSERT_EQUAL(ENOENT, e.errnum());
                std::string msg = e.what();
                CPPUNIT_ASSERT_MESSAGE(msg, msg.find("nosuchtap") != std::string::npos);
            }
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0).count();
            // It returned at all (the bound), and not before the bound.
            CPPUNIT_ASSERT(ms >= 100);
        });
    }

    void testSetUp()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({req(0), req(1)});
            auto recs = recordsOf(res);
            CPPUNIT_ASSERT(!(findLink(nl, recs[0].ifname)->flags & IFF_UP));
            macvtapSetUp(nl, recs);
            for (auto &r : recs)
                CPPUNIT_ASSERT(findLink(nl, r.ifname)->flags & IFF_UP);
            macvtapSetUp(nl, recs, false);
            CPPUNIT_ASSERT(!(findLink(nl, recs[1].ifname)->flags & IFF_UP));
            // Up in the creating message itself.
            MacvtapRequest r = req(2);
            r.up = true;
            MacvtapTransaction tx2(nl, {});
            auto &res2 = tx2.prepare({r});
            CPPUNIT_ASSERT(findLink(nl, res2[0].record.ifname)->flags & IFF_UP);
        });
    }

    // A frame written to the tap fd leaves through the parent and arrives on
    // the veth peer; a frame sent from the peer to the guest's MAC comes out
    // of the tap fd.
    void testTrafficThroughTapFd()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapRequest r = req(5);
            r.vnetHdr = false;
            r.up = true;
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({r});
            int tapFd = res[0].tapFds[0].get();
            int peerIndex = findLink(nl, "vdp1")->ifindex;

            UniqueFd pkt(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5)));
            CPPUNIT_ASSERT(pkt);
            sockaddr_ll sll{};
            sll.sll_family = AF_PACKET;
            sll.sll_protocol = htons(0x88b5);
            sll.sll_ifindex = peerIndex;
            CPPUNIT_ASSERT_EQUAL(0, ::bind(pkt.get(), reinterpret_cast<sockaddr *>(&sll), sizeof(sll)));
            timeval tv{2, 0};
            ::setsockopt(pkt.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            ::setsockopt(tapFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

            auto frame = [](const MacAddr &dst, const MacAddr &src, const std::string &text) {
                std::string f(reinterpret_cast<const char *>(dst.bytes.data()), 6);
                f.append(reinterpret_cast<const char *>(src.bytes.data()), 6);
                f += "\x88\xb5" + text;
                f.resize(std::max<size_t>(f.size(), 60), '\0');
                return f;
            };
            MacAddr bcast = *MacAddr::parse("ff:ff:ff:ff:ff:ff");
            std::string out = frame(bcast, r.mac, "from-guest");
            CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(out.size()), ::write(tapFd, out.data(), out.size()));
            char buf[2048];
            ssize_t n = ::recv(pkt.get(), buf, sizeof(buf), 0);
            CPPUNIT_ASSERT(n >= 24);
            CPPUNIT_ASSERT_EQUAL(std::string("from-guest"), std::string(buf + 14, 10));
            CPPUNIT_ASSERT_EQUAL(0, std::memcmp(buf + 6, r.mac.bytes.data(), 6));

            MacAddr peerMac = *findLink(nl, "vdp1")->mac;
            std::string in = frame(r.mac, peerMac, "to-guest");
            sockaddr_ll to = sll;
            to.sll_halen = 6;
            std::memcpy(to.sll_addr, r.mac.bytes.data(), 6);
            CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(in.size()),
                                 ::sendto(pkt.get(), in.data(), in.size(), 0,
                                          reinterpret_cast<sockaddr *>(&to), sizeof(to)));
            // The tap fd is blocking; poll so a lost frame fails instead of hanging.
            pollfd pfd{tapFd, POLLIN, 0};
            CPPUNIT_ASSERT_EQUAL(1, ::poll(&pfd, 1, 2000));
            n = ::read(tapFd, buf, sizeof(buf));
            CPPUNIT_ASSERT(n >= 22);
            CPPUNIT_ASSERT_EQUAL(std::string("to-guest"), std::string(buf + 14, 8));
        });
    }

    void testSkipsNamesCreatedByIp()
    {
        test::TestNetns ns;
        ns.ip({"link", "add", "link", "vdp0", "name", "macvtap0", "type", "macvtap"});
        ns.ip({"link", "add", "link", "vdp0", "name", "macvtap1", "type", "macvtap"});
        ns.ip({"link", "add", "link", "vdp0", "name", "macvtap3", "type", "macvlan"});
        ns.run([] {
            NetlinkSocket nl;
            auto before = netlinkStats().requests.load();
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({req(0), req(1), req(2)});
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap2"), res[0].record.ifname);
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap4"), res[1].record.ifname);
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap5"), res[2].record.ifname);
            // One dump plus one create per device, and no retries.
            CPPUNIT_ASSERT_EQUAL(uint64_t(4), netlinkStats().requests.load() - before);
            before = netlinkStats().requests.load();
            // A user-chosen name that looks like a pool name is skipped by
            // the pool within the same request.
            MacvtapRequest chosen = req(3);
            chosen.ifname = "macvtap7";
            MacvtapTransaction tx2(nl, {});
            auto &res2 = tx2.prepare({req(4), req(5), chosen, req(6)});
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap6"), res2[0].record.ifname);
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap8"), res2[1].record.ifname);
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap7"), res2[2].record.ifname);
            CPPUNIT_ASSERT(!res2[2].record.autoNamed);
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap9"), res2[3].record.ifname);
            CPPUNIT_ASSERT_EQUAL(uint64_t(5), netlinkStats().requests.load() - before);
        });
        auto links = ns.links();
        CPPUNIT_ASSERT_EQUAL(size_t(6), links.size()); // rolled back; ip's three remain
    }

    // A foreign device takes the name between our dump and our create.
    void testEexistRetry()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapOptions o;
            o.fault = [](MacvtapStep s, size_t i) {
                if (s == MacvtapStep::Reserve && i == 1)
                    ipHere({"link", "add", "link", "vdp0", "name", "macvtap1", "type", "macvtap"});
            };
            MacvtapTransaction tx(nl, std::move(o));
            auto &res = tx.prepare({req(0), req(1), req(2)});
            std::set<std::string> names;
            for (auto &r : res)
                names.insert(r.record.ifname);
            CPPUNIT_ASSERT_EQUAL(size_t(3), names.size());
            CPPUNIT_ASSERT(!names.count("macvtap1"));
            auto done = tx.commit();
            macvtapTeardown(nl, recordsOf(done), takeFds(done), nullptr, "");
            CPPUNIT_ASSERT(findLink(nl, "macvtap1")); // the foreign one survives
        });
    }

    // An alternative name blocks the same name for new devices; the dump
    // shows it, so no EEXIST round trip is needed.
    void testAltNamesAreTaken()
    {
        test::TestNetns ns;
        ns.ip({"link", "property", "add", "dev", "vdp1", "altname", "macvtap0"});
        ns.run([] {
            NetlinkSocket nl;
            auto before = netlinkStats().requests.load();
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({req(0)});
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap1"), res[0].record.ifname);
            CPPUNIT_ASSERT_EQUAL(uint64_t(2), netlinkStats().requests.load() - before);
            MacvtapRequest mine = req(1);
            mine.ifname = "macvtap0";
            MacvtapTransaction tx2(nl, {});
            CPPUNIT_ASSERT_THROW(tx2.prepare({mine}), SystemError);
        });
    }

    void testPoolExhausted()
    {
        test::TestNetns ns;
        ns.ip({"link", "add", "link", "vdp0", "name", "macvtap1", "type", "macvtap"});
        ns.run([] {
            NetlinkSocket nl;
            auto before = linkNames(nl);
            MacvtapOptions o;
            o.poolLimit = 3; // macvtap0..2, one taken by ip
            MacvtapTransaction tx(nl, std::move(o));
            try {
                tx.prepare({req(0), req(1), req(2)});
                CPPUNIT_FAIL("more devices than names accepted");
            } catch (const Error &e) {
                CPPUNIT_ASSERT_EQUAL(VIR_ERR_INTERNAL_ERROR, e.code());
                CPPUNIT_ASSERT_EQUAL(std::string("internal error: no free macvtap interface name "
                                                 "for a device on vdp0"), std::string(e.what()));
            }
            CPPUNIT_ASSERT(before == linkNames(nl));
        });
    }

    // The pool runs dry while replacing a name that a foreign device took
    // after the dump.  Devices created later in the same batch must be
    // recorded (and so rolled back) before that error leaves createAll.
    void testPoolExhaustedOnRetry()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            auto before = linkNames(nl);
            MacvtapOptions o;
            o.poolLimit = 2; // macvtap0 and macvtap1 only
            o.fault = [](MacvtapStep s, size_t i) {
                if (s == MacvtapStep::Reserve && i == 1)
                    ipHere({"link", "add", "link", "vdp0", "name", "macvtap0", "type", "macvlan"});
            };
            MacvtapTransaction tx(nl, std::move(o));
            try {
                tx.prepare({req(0), req(1)});
                CPPUNIT_FAIL("more devices than names accepted");
            } catch (const Error &e) {
                CPPUNIT_ASSERT_EQUAL(std::string("internal error: no free macvtap interface name "
                                                 "for a device on vdp0"), std::string(e.what()));
            }
            before.insert("macvtap0"); // the foreign one stays
            CPPUNIT_ASSERT(before == linkNames(nl));
        });
    }

    // A thread keeps creating macvtapN devices of its own while we allocate.
    void testConcurrentForeignCreator()
    {
        test::TestNetns ns;
        ns.run([] {
            std::atomic<bool> stop{false};
            std::set<std::string> foreign;
            std::thread t([&] {
                NetlinkSocket fnl;
                auto parent = findLink(fnl, "vdp0");
                for (unsigned i = 0; i < 200 && !stop; ++i) {
                    std::string name = "macvtap" + std::to_string(i);
                    NetlinkMsg m = makeLinkMsg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
                    m.putString(IFLA_IFNAME, name);
                    m.putU32(IFLA_LINK, static_cast<uint32_t>(parent->ifindex));
                    void *li = m.nestStart(IFLA_LINKINFO);
                    m.putString(IFLA_INFO_KIND, "macvlan");
                    m.nestEnd(li);
                    if (fnl.request(m).error == 0)
                        foreign.insert(name);
                }
            });
            NetlinkSocket nl;
            std::vector<MacvtapResult> all;
            for (int round = 0; round < 10; ++round) {
                MacvtapTransaction tx(nl, {});
                std::vector<MacvtapRequest> rs;
                for (unsigned i = 0; i < 8; ++i)
                    rs.push_back(req(round * 8 + i));
                tx.prepare(rs);
                for (auto &r : tx.commit())
                    all.push_back(std::move(r));
            }
            stop = true;
            t.join();
            std::set<std::string> ours;
            for (auto &r : all)
                ours.insert(r.record.ifname);
            CPPUNIT_ASSERT_EQUAL(size_t(80), ours.size());
            for (auto &n : ours)
                CPPUNIT_ASSERT(!foreign.count(n));
            macvtapTeardown(nl, recordsOf(all), takeFds(all), nullptr, "");
            for (auto &n : foreign)
                CPPUNIT_ASSERT(findLink(nl, n));
        });
    }

    void testThreadsAllocateConcurrently()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            NetdevNameState state(dir.path());
            std::vector<std::vector<MacvtapResult>> results(6);
            std::vector<std::string> errors(6);
            std::vector<std::thread> threads;
            for (unsigned t = 0; t < 6; ++t)
                threads.emplace_back([&, t] {
                    try {
                        NetlinkSocket nl;
                        MacvtapTransaction tx(nl, {.owner = "dom" + std::to_string(t), .state = &state});
                        std::vector<MacvtapRequest> rs;
                        for (unsigned i = 0; i < 10; ++i)
                            rs.push_back(req(t * 10 + i));
                        tx.prepare(rs);
                        results[t] = tx.commit();
                    } catch (const std::exception &e) {
                        errors[t] = e.what();
                    }
                });
            for (auto &t : threads)
                t.join();
            std::set<std::string> names;
            std::set<uint32_t> groups;
            for (unsigned t = 0; t < 6; ++t) {
                CPPUNIT_ASSERT_EQUAL(std::string(), errors[t]);
                for (auto &r : results[t]) {
                    names.insert(r.record.ifname);
                    groups.insert(r.record.group);
                }
                CPPUNIT_ASSERT_EQUAL(size_t(10), state.reservedNames("dom" + std::to_string(t)).size());
            }
            CPPUNIT_ASSERT_EQUAL(size_t(60), names.size());
            CPPUNIT_ASSERT_EQUAL(size_t(6), groups.size()); // one group per owner
            NetlinkSocket nl;
            for (unsigned t = 0; t < 6; ++t) {
                auto rep = macvtapTeardown(nl, recordsOf(results[t]), takeFds(results[t]), &state,
                                           "dom" + std::to_string(t));
                CPPUNIT_ASSERT_EQUAL(size_t(1), rep.groupRequests);
                CPPUNIT_ASSERT(state.reservedNames("dom" + std::to_string(t)).empty());
            }
            CPPUNIT_ASSERT_EQUAL(size_t(3), linkNames(nl).size());
        });
    }

    void testTwoProcessesAllocateConcurrently()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            int pipes[2][2];
            pid_t pids[2];
            for (int p = 0; p < 2; ++p) {
                CPPUNIT_ASSERT_EQUAL(0, ::pipe(pipes[p]));
                pids[p] = ::fork();
                if (pids[p] == 0) {
                    std::string names;
                    try {
                        NetdevNameState state(dir.path());
                        NetlinkSocket nl;
                        MacvtapTransaction tx(nl, {.owner = "proc" + std::to_string(p), .state = &state});
                        std::vector<MacvtapRequest> rs;
                        for (unsigned i = 0; i < 25; ++i)
                            rs.push_back(req(p * 25 + i));
                        for (auto &r : tx.prepare(rs))
                            names += r.record.ifname + "\n";
                        tx.commit(); // devices stay after this process exits
                    } catch (const std::exception &e) {
                        names = std::string("ERROR ") + e.what();
                    }
                    ssize_t ignored = ::write(pipes[p][1], names.data(), names.size());
                    (void)ignored;
                    ::_exit(0);
                }
                ::close(pipes[p][1]);
            }
            std::set<std::string> all;
            for (int p = 0; p < 2; ++p) {
                std::string out;
                char buf[4096];
                ssize_t n;
                while ((n = ::read(pipes[p][0], buf, sizeof(buf))) > 0)
                    out.append(buf, static_cast<size_t>(n));
                ::close(pipes[p][0]);
                ::waitpid(pids[p], nullptr, 0);
                CPPUNIT_ASSERT_MESSAGE(out, out.rfind("ERROR", 0) != 0);
                std::istringstream in(out);
                std::string l;
                while (std::getline(in, l))
                    all.insert(l);
            }
            CPPUNIT_ASSERT_EQUAL(size_t(50), all.size());
            NetlinkSocket nl;
            auto present = linkNames(nl);
            for (auto &n : all)
                CPPUNIT_ASSERT(present.count(n));
            NetdevNameState state(dir.path());
            CPPUNIT_ASSERT_EQUAL(size_t(25), state.reservedNames("proc0").size());
            CPPUNIT_ASSERT_EQUAL(size_t(25), state.reservedNames("proc1").size());
        });
    }

    // Without a shared state file both processes pick the same names from
    // the same dump; NLM_F_EXCL makes the kernel decide and the loser moves
    // on to other names.  Nobody fails, nobody shares a name.
    void testTwoProcessesRaceWithoutState()
    {
        test::TestNetns ns;
        ns.run([] {
            int go[2];
            CPPUNIT_ASSERT_EQUAL(0, ::pipe(go));
            int pipes[2][2];
            pid_t pids[2];
            for (int p = 0; p < 2; ++p) {
                CPPUNIT_ASSERT_EQUAL(0, ::pipe(pipes[p]));
                pids[p] = ::fork();
                if (pids[p] == 0) {
                    ::close(go[1]);
                    std::string names;
                    try {
                        NetlinkSocket nl;
                        std::vector<MacvtapRequest> rs;
                        for (unsigned i = 0; i < 30; ++i)
                            rs.push_back(req(p * 30 + i));
                        char c;
                        while (::read(go[0], &c, 1) < 0 && errno == EINTR) {
                        }
                        MacvtapTransaction tx(nl, {});
                        for (auto &r : tx.prepare(rs))
                            names += r.record.ifname + "\n";
                        tx.commit();
                        if (std::getenv("VD_TEST_DEBUG"))
                            std::fprintf(stderr, "process %d: %lu netlink requests\n", p,
                                         static_cast<unsigned long>(netlinkStats().requests.load()));
                    } catch (const std::exception &e) {
                        names = std::string("ERROR ") + e.what();
                    }
                    ssize_t ignored = ::write(pipes[p][1], names.data(), names.size());
                    (void)ignored;
                    ::_exit(0);
                }
                ::close(pipes[p][1]);
            }
            ::close(go[0]);
            ::close(go[1]); // both start now
            std::set<std::string> all;
            for (int p = 0; p < 2; ++p) {
                std::string out;
                char buf[4096];
                ssize_t n;
                while ((n = ::read(pipes[p][0], buf, sizeof(buf))) > 0)
                    out.append(buf, static_cast<size_t>(n));
                ::close(pipes[p][0]);
                ::waitpid(pids[p], nullptr, 0);
                CPPUNIT_ASSERT_MESSAGE(out, out.rfind("ERROR", 0) != 0);
                std::istringstream in(out);
                std::string l;
                while (std::getline(in, l))
                    all.insert(l);
            }
            CPPUNIT_ASSERT_EQUAL(size_t(60), all.size());
            NetlinkSocket nl;
            auto present = linkNames(nl);
            for (auto &n : all)
                CPPUNIT_ASSERT(present.count(n));
        });
    }

    void testRollbackAtEveryFaultPoint()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            NetdevNameState state(dir.path());
            NetlinkSocket nl;
            auto before = linkNames(nl);
            const MacvtapStep steps[] = {MacvtapStep::Reserve, MacvtapStep::Create,
                                         MacvtapStep::Save, MacvtapStep::Open};
            unsigned cases = 0;
            for (MacvtapStep step : steps) {
                for (size_t at = 0; at < 3; ++at) {
                    if (step == MacvtapStep::Save && at > 0)
                        continue;
                    size_t fds = test::countOpenFds();
                    MacvtapOptions o;
                    o.owner = "dom";
                    o.state = &state;
                    o.fault = [step, at](MacvtapStep s, size_t i) {
                        if (s == step && i == at)
                            throw Error(VIR_ERR_INTERNAL_ERROR, "injected");
                    };
                    std::vector<MacvtapRequest> rs{req(0), req(1), req(2)};
                    rs[1].queues = 3;
                    try {
                        MacvtapTransaction tx(nl, std::move(o));
                        tx.prepare(rs);
                        CPPUNIT_FAIL("injected failure not raised");
                    } catch (const Error &e) {
                        CPPUNIT_ASSERT_EQUAL(std::string("internal error: injected"), std::string(e.what()));
                    }
                    ++cases;
                    std::string where = "step " + std::to_string(static_cast<int>(step)) +
                                        " at " + std::to_string(at);
                    { auto now = linkNames(nl); for (auto &n : now) where += " " + n; }
                    CPPUNIT_ASSERT_MESSAGE(where, before == linkNames(nl));
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(where, fds, test::countOpenFds());
                    CPPUNIT_ASSERT_MESSAGE(where, state.reservedNames("dom").empty());
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(where, uint32_t(0), state.groupOf("dom"));
                }
            }
            CPPUNIT_ASSERT_EQUAL(10u, cases);
            // The names of rolled-back attempts were not handed out again
            // straight away (the pool's cursor moved on).
            MacvtapTransaction tx(nl, {.owner = "dom", .state = &state});
            auto &res = tx.prepare({req(0)});
            CPPUNIT_ASSERT(res[0].record.ifname != "macvtap0");
        });
    }

    void testRollbackPassthroughRestoresParentMac()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            auto parentMac = findLink(nl, "vdp0")->mac->str();
            for (MacvtapStep step : {MacvtapStep::ParentMac, MacvtapStep::Create, MacvtapStep::Open}) {
                MacvtapOptions o;
                o.fault = [step](MacvtapStep s, size_t) {
                    if (s == step)
                        throw Error(VIR_ERR_INTERNAL_ERROR, "injected");
                };
                MacvtapTransaction tx(nl, std::move(o));
                auto before = netlinkStats().requests.load();
                CPPUNIT_ASSERT_THROW(tx.prepare({req(7, MacvlanMode::Passthrough)}), Error);
                auto used = netlinkStats().requests.load() - before;
                CPPUNIT_ASSERT_EQUAL(parentMac, findLink(nl, "vdp0")->mac->str());
                CPPUNIT_ASSERT_EQUAL(size_t(3), linkNames(nl).size());
                // dump + set MAC [+ create, then rollback: dump + delete]
                // + ONE restore of the parent's MAC.
                uint64_t expected = step == MacvtapStep::ParentMac ? 3 : 6;
                CPPUNIT_ASSERT_EQUAL(expected, used);
            }
        });
    }

    void testMissingParent()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            auto before = linkNames(nl);
            MacvtapRequest bad = req(1);
            bad.parent = "eth9";
            MacvtapTransaction tx(nl, {});
            try {
                tx.prepare({req(0), bad});
                CPPUNIT_FAIL("missing parent accepted");
            } catch (const SystemError &e) {
                CPPUNIT_ASSERT_EQUAL(std::string("Unable to get index for interface eth9: No such device"),
                                     std::string(e.what()));
                CPPUNIT_ASSERT_EQUAL(ENODEV, e.errnum());
            }
            CPPUNIT_ASSERT(before == linkNames(nl));
        });
    }

    // The kernel allows one passthrough macvtap per parent; the second
    // create fails in the kernel after the first succeeded in the same
    // batch, so this is a rollback after a real kernel error.
    void testKernelRefusesSecondPassthrough()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            auto before = linkNames(nl);
            auto parentMac = findLink(nl, "vdp0")->mac->str();
            MacvtapTransaction tx(nl, {});
            try {
                tx.prepare({req(0), req(1, MacvlanMode::Passthrough)});
                CPPUNIT_FAIL("second device on a passthrough parent accepted");
            } catch (const SystemError &e) {
                std::string msg = e.what();
                CPPUNIT_ASSERT_MESSAGE(msg, msg.find("error creating macvtap interface macvtap1@vdp0") == 0);
                CPPUNIT_ASSERT_MESSAGE(msg, msg.find(strerror(e.errnum())) != std::string::npos);
            }
            CPPUNIT_ASSERT(before == linkNames(nl));
            CPPUNIT_ASSERT_EQUAL(parentMac, findLink(nl, "vdp0")->mac->str());
        });
    }

    void testUserNameCollisionLeavesForeignDevice()
    {
        test::TestNetns ns;
        ns.ip({"link", "add", "link", "vdp0", "name", "mytap0", "type", "macvtap"});
        ns.run([] {
            NetlinkSocket nl;
            int foreignIndex = findLink(nl, "mytap0")->ifindex;
            MacvtapRequest mine = req(1);
            mine.ifname = "mytap0";
            MacvtapRequest other = req(2);
            other.ifname = "mytap1";
            {
                MacvtapTransaction tx(nl, {});
                try {
                    tx.prepare({other, mine});
                    CPPUNIT_FAIL("existing device accepted");
                } catch (const SystemError &e) {
                    CPPUNIT_ASSERT_EQUAL(EEXIST, e.errnum());
                    std::string msg = e.what();
                    CPPUNIT_ASSERT_MESSAGE(msg, msg.find("mytap0@vdp0") != std::string::npos);
                }
            }
            auto l = findLink(nl, "mytap0");
            CPPUNIT_ASSERT(l);
            CPPUNIT_ASSERT_EQUAL(foreignIndex, l->ifindex);
            CPPUNIT_ASSERT(!findLink(nl, "mytap1"));
            // And a teardown given a record naming it (e.g. stale state
            // with a different ifindex) does not touch it either.
            MacvtapRecord stale{.ifname = "mytap0", .ifindex = foreignIndex + 1000, .parent = "vdp0"};
            auto rep = macvtapTeardown(nl, {stale}, {}, nullptr, "");
            CPPUNIT_ASSERT_EQUAL(size_t(1), rep.vanished);
            CPPUNIT_ASSERT(findLink(nl, "mytap0"));
        });
    }

    // <target dev='vdt%d'/>: the template is expanded before creation (the
    // lowest free number, as the kernel would), so that the record, the
    // reservation and rollback know the real name.  Sent as is, the kernel
    // expanded it itself and the device was left behind with ifindex 0.
    void testUserNameTemplate()
    {
        test::TestNetns ns;
        ns.ip({"link", "add", "link", "vdp0", "name", "vdt0", "type", "macvtap"});
        ns.run([] {
            TmpDir dir;
            NetlinkSocket nl;
            NetdevNameState state(dir.path());
            auto before = linkNames(nl);
            MacvtapRequest a = req(0), b = req(1);
            a.ifname = "vdt%d";
            b.ifname = "vdt%d";
            {
                MacvtapTransaction tx(nl, {.owner = "dom", .state = &state, .tapWaitMs = 200});
                auto &res = tx.prepare({a, b});
                CPPUNIT_ASSERT_EQUAL(std::string("vdt1"), res[0].record.ifname);
                CPPUNIT_ASSERT_EQUAL(std::string("vdt2"), res[1].record.ifname);
                CPPUNIT_ASSERT_EQUAL(findLink(nl, "vdt1")->ifindex, res[0].record.ifindex);
                CPPUNIT_ASSERT_EQUAL(size_t(1), res[0].tapFds.size());
                CPPUNIT_ASSERT(!res[0].record.autoNamed);
                CPPUNIT_ASSERT((std::set<std::string>{"vdt1", "vdt2"}) == state.reservedNames("dom"));
            } // rolled back
            CPPUNIT_ASSERT(before == linkNames(nl));
            CPPUNIT_ASSERT(state.reservedNames("dom").empty());

            // A template whose expansion does not fit IFNAMSIZ.
            MacvtapRequest longName = req(2);
            longName.ifname = "abcdefghijklmn%d";
            ipHere({"link", "add", "link", "vdp0", "name", "abcdefghijklmn0", "type", "macvtap"});
            for (int i = 1; i <= 9; ++i)
                ipHere({"link", "add", "link", "vdp0", "name", "abcdefghijklmn" + std::to_string(i),
                        "type", "macvtap"});
            before = linkNames(nl);
            MacvtapTransaction tx(nl, {});
            try {
                tx.prepare({longName});
                CPPUNIT_FAIL("template without a free name accepted");
            } catch (const Error &e) {
                CPPUNIT_ASSERT_EQUAL(std::string("internal error: no free interface name for "
                                                 "template 'abcdefghijklmn%d'"),
                                     std::string(e.what()));
            }
            CPPUNIT_ASSERT(before == linkNames(nl));
        });
    }

    void testReservationSurvivesRestart()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            NetlinkSocket nl;
            std::vector<MacvtapRecord> dom1;
            {
                NetdevNameState state(dir.path());
                MacvtapTransaction tx(nl, {.owner = "dom1", .state = &state});
                tx.prepare({req(0), req(1)});
                for (auto &r : tx.commit())
                    dom1.push_back(r.record);
            }
            CPPUNIT_ASSERT_EQUAL(std::string("macvtap0"), dom1[0].ifname);
            // dom1's devices vanish behind our back (parent deleted, ...).
            ipHere({"link", "del", "macvtap0"});
            ipHere({"link", "del", "macvtap1"});
            // A new process: fresh state object, same directory.
            {
                NetdevNameState state(dir.path());
                MacvtapTransaction tx(nl, {.owner = "dom2", .state = &state});
                auto &res = tx.prepare({req(2)});
                CPPUNIT_ASSERT_EQUAL(std::string("macvtap2"), res[0].record.ifname);
            } // rolled back: macvtap2 released, cursor stays after it
            {
                NetdevNameState state(dir.path());
                auto rep = macvtapTeardown(nl, dom1, {}, &state, "dom1");
                CPPUNIT_ASSERT_EQUAL(size_t(2), rep.vanished);
                CPPUNIT_ASSERT(state.reservedNames("dom1").empty());
                MacvtapTransaction tx(nl, {.owner = "dom3", .state = &state});
                auto &res = tx.prepare({req(3)});
                // Next-fit: neither the released macvtap0/1 nor macvtap2.
                CPPUNIT_ASSERT_EQUAL(std::string("macvtap3"), res[0].record.ifname);
            }
        });
    }

    void testTeardownByGroup()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            NetdevNameState state(dir.path());
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {.owner = "dom", .state = &state});
            std::vector<MacvtapRequest> rs;
            for (unsigned i = 0; i < 10; ++i)
                rs.push_back(req(i));
            tx.prepare(rs);
            auto done = tx.commit();
            uint32_t g = done[0].record.group;
            CPPUNIT_ASSERT(g >= NetdevNameState::kGroupBase);
            CPPUNIT_ASSERT_EQUAL(g, findLink(nl, done[9].record.ifname)->group);
            auto rep = macvtapTeardown(nl, recordsOf(done), takeFds(done), &state, "dom");
            CPPUNIT_ASSERT_EQUAL(size_t(1), rep.groupRequests);
            CPPUNIT_ASSERT_EQUAL(size_t(0), rep.singleDeletes);
            CPPUNIT_ASSERT_EQUAL(size_t(3), linkNames(nl).size());
        });
    }

    void testTeardownFallsBackWithForeignGroupMember()
    {
        test::TestNetns ns;
        ns.run([] {
            TmpDir dir;
            NetdevNameState state(dir.path());
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {.owner = "dom", .state = &state});
            tx.prepare({req(0), req(1), req(2)});
            auto done = tx.commit();
            // Someone puts a device of theirs into our group.
            ipHere({"link", "set", "vdp1", "group", std::to_string(done[0].record.group)});
            auto rep = macvtapTeardown(nl, recordsOf(done), takeFds(done), &state, "dom");
            CPPUNIT_ASSERT_EQUAL(size_t(0), rep.groupRequests);
            CPPUNIT_ASSERT_EQUAL(size_t(3), rep.singleDeletes);
            auto names = linkNames(nl);
            CPPUNIT_ASSERT(names.count("vdp1"));
            CPPUNIT_ASSERT_EQUAL(size_t(3), names.size());
        });
    }

    void testTeardownVanishedAndReplaced()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {});
            tx.prepare({req(0), req(1), req(2)});
            auto done = tx.commit();
            auto recs = recordsOf(done);
            // One vanished; one replaced by a foreign device of the same name.
            ipHere({"link", "del", recs[0].ifname});
            ipHere({"link", "del", recs[1].ifname});
            ipHere({"link", "add", "link", "vdp0", "name", recs[1].ifname, "type", "macvtap"});
            int foreign = findLink(nl, recs[1].ifname)->ifindex;
            auto rep = macvtapTeardown(nl, recs, takeFds(done), nullptr, "");
            CPPUNIT_ASSERT_EQUAL(size_t(2), rep.vanished);
            CPPUNIT_ASSERT_EQUAL(size_t(1), rep.singleDeletes);
            CPPUNIT_ASSERT_EQUAL(foreign, findLink(nl, recs[1].ifname)->ifindex);
            CPPUNIT_ASSERT(!findLink(nl, recs[2].ifname));
        });
    }

    // The socket wrapper can watch links: deleting the parent shows up as
    // RTM_DELLINK of the macvtap (what a future reconnect watcher needs).
    void testLinkNotifications()
    {
        test::TestNetns ns;
        ns.run([] {
            NetlinkSocket watch;
            watch.addMembership(RTNLGRP_LINK);
            NetlinkSocket nl;
            MacvtapTransaction tx(nl, {});
            auto &res = tx.prepare({req(0)});
            int ifindex = res[0].record.ifindex;
            bool sawNew = false, sawDel = false;
            auto onMsg = [&](const nlmsghdr *h) {
                auto *ifi = static_cast<const ifinfomsg *>(NLMSG_DATA(h));
                if (h->nlmsg_type == RTM_NEWLINK && ifi->ifi_index == ifindex)
                    sawNew = true;
                if (h->nlmsg_type == RTM_DELLINK && ifi->ifi_index == ifindex)
                    sawDel = true;
            };
            while (!sawNew && watch.receive(onMsg, 2000)) {
            }
            CPPUNIT_ASSERT(sawNew);
            ipHere({"link", "del", "vdp0"}); // takes the macvtap with it
            while (!sawDel && watch.receive(onMsg, 2000)) {
            }
            CPPUNIT_ASSERT(sawDel);
            // The transaction's rollback copes with the vanished device.
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MacvtapTest);

class MacvtapRecordTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MacvtapRecordTest);
    CPPUNIT_TEST(testRoundTrip);
    CPPUNIT_TEST(testRejects);
    CPPUNIT_TEST_SUITE_END();

public:
    void testRoundTrip()
    {
        MacvtapRecord r;
        r.ifname = "macvtap12";
        r.ifindex = 33;
        r.parent = "eth0";
        r.parentIndex = 2;
        r.mode = MacvlanMode::Passthrough;
        r.group = NetdevNameState::kGroupBase + 5;
        r.autoNamed = true;
        r.savedParentMac = mac(9);
        std::string text = r.format();
        CPPUNIT_ASSERT_EQUAL(std::string("ifname=macvtap12 ifindex=33 parent=eth0 parentindex=2 "
                                         "mode=passthrough kind=macvtap group=1986265093 "
                                         "autonamed=1 savedmac=52:54:00:00:00:09"), text);
        auto back = MacvtapRecord::parse(text);
        CPPUNIT_ASSERT(back);
        CPPUNIT_ASSERT_EQUAL(text, back->format());
    }

    void testRejects()
    {
        CPPUNIT_ASSERT(!MacvtapRecord::parse(""));
        CPPUNIT_ASSERT(!MacvtapRecord::parse("ifindex=3"));
        CPPUNIT_ASSERT(!MacvtapRecord::parse("ifname=a mode=bogus"));
        CPPUNIT_ASSERT(!MacvtapRecord::parse("ifname=a savedmac=zz"));
        CPPUNIT_ASSERT(MacvtapRecord::parse("ifname=a future=1"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MacvtapRecordTest);

} // namespace
