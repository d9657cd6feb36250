// Shared fixture for kernel-facing tests: a private network namespace with
// a veth pair inside, and a way to run a test body inside it.
//
//     vd::test::TestNetns ns;            // skips the test when not root
//     ns.run([&] {                       // forked child, inside the netns,
//         ... create devices on ns.parent() ... CPPUNIT_ASSERT(...);
//     });
//
// The namespace "vdt-<pid>-<n>" is created with `ip netns add`, holds the
// veth pair parent() <-> peer() (both up), and is deleted on destruction or
// on a fatal signal, so nothing outlives the test.  Nothing is ever done in
// the root namespace.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "virnetns.h"

namespace vd::test {

class TestNetns {
public:
    // Skips (vd::test::skip) when not root.  `withVeth` = false gives an
    // empty namespace (only lo).
    explicit TestNetns(bool withVeth = true);
    ~TestNetns();

    const std::string &name() const noexcept { return ns_->name(); }
    std::string path() const { return ns_->path(); }
    // The macvtap parent (one veth end) and its peer (the other end).
    static std::string parent() { return "vdp0"; }
    static std::string peer() { return "vdp1"; }

    // `ip -n NAME args...`; throws on failure.
    void ip(const std::vector<std::string> &args) const { ns_->ip(args); }

    // Run `body` in a forked child that entered the namespace with its own
    // mount namespace and a fresh sysfs (so /sys/class/net shows this
    // namespace).  CppUnit assertion failures, vd::test::skip() and other
    // exceptions in the child are reported back and rethrown here.  The
    // child is killed after `timeoutSec`.
    void run(const std::function<void()> &body, unsigned timeoutSec = 120) const;

    // Names of the links in the namespace (from `ip -o link`).
    std::vector<std::string> links() const;

private:
    std::unique_ptr<NamedNetns> ns_;
};

// Number of open fds of the calling process (entries of /proc/self/fd).
size_t countOpenFds();

} // namespace vd::test
