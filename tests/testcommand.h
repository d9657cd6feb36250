// Run a program and capture its output, for tests that drive the CLI.
#pragma once

#include <string>
#include <vector>

namespace vd::test {

struct RunResult {
    int status = -1; // exit code, or 128+signal
    std::string out;
    std::string err;
};

// Run argv[0] with the given arguments; `env` entries (NAME=VALUE) are added
// to the inherited environment.
RunResult runProgram(const std::vector<std::string> &argv,
                     const std::vector<std::string> &env = {});

// Run the built tools/virt-direct with --root `root`; inside network
// namespace `netns` (through `ip netns exec`, so sysfs matches) unless empty.
RunResult runVirtDirect(const std::string &netns, const std::string &root,
                        const std::vector<std::string> &args);

// The host's qemu-system-x86_64, found the way virt-direct finds an emulator
// for a domain without <emulator> (qemu::findEmulator: a search of $PATH), so
// tests never depend on where a distribution installs it.  Skips the calling
// test when there is none.
std::string hostQemu();

// A private temporary directory, removed recursively on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

} // namespace vd::test
