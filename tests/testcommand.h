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
