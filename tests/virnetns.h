// Private network namespaces for tests, benchmarks and demos (test
// support: tests/libvd_testsupport.a, not part of the product).
//
// NamedNetns creates a uniquely named namespace with `ip netns add` and
// deletes it again on destruction.  Should the process be killed by
// SIGINT/SIGTERM/SIGHUP/SIGQUIT first, a signal-safe handler detaches and
// unlinks /run/netns/NAME (what `ip netns del` does) before dying, so no
// namespace is left behind.  Interfaces inside die with the namespace.
#pragma once

#include <string>
#include <vector>

namespace vd {

// Run iproute2's ip (IP_PATH) with `args`, feeding `input` on stdin;
// returns the exit status and fills `output` (stdout+stderr) if given.
int runIp(const std::vector<std::string> &args, const std::string &input = {},
          std::string *output = nullptr);

class NamedNetns {
public:
    // Name: "<prefix>-<pid>-<counter>".  The first one created in a process
    // also removes "<prefix>-<pid>-*" namespaces whose process is dead (left
    // by a run killed with SIGKILL).
    explicit NamedNetns(const std::string &prefix = "vd");
    ~NamedNetns();
    NamedNetns(const NamedNetns &) = delete;
    NamedNetns &operator=(const NamedNetns &) = delete;

    const std::string &name() const noexcept { return name_; }
    std::string path() const { return "/run/netns/" + name_; }

    // `ip -n NAME args...`; throws vd::Error with ip's output on failure.
    void ip(const std::vector<std::string> &args) const;
    // `ip -n NAME -batch -` with the given commands.
    void ipBatch(const std::string &commands) const;

private:
    std::string name_;
};

// Move the calling process into the namespace at `netnsPath` together with
// a private mount namespace that has the namespace's own sysfs on /sys
// (what `ip netns exec` does; /sys/class/net then shows this namespace's
// devices).  The process must be single-threaded.
void enterNetnsWithSysfs(const std::string &netnsPath);

} // namespace vd
