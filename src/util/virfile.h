// File-descriptor ownership and atomic file writes.
#pragma once

#include <string>
#include <utility>

namespace vd {

// Owns one file descriptor; closes it on destruction.  Moving transfers
// ownership; release() hands the raw fd to someone else (e.g. QEMU).
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    UniqueFd(UniqueFd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd &operator=(UniqueFd &&other) noexcept
    {
        if (this != &other)
            reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

// Write `contents` to `path` atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.  On any failure the
// temporary is removed and an existing `path` is left untouched.
void writeFileAtomic(const std::string &path, const std::string &contents,
                     unsigned mode = 0600);

// Read a whole file; throws SystemError naming the path.
std::string readFile(const std::string &path);

// mkdir -p with the given mode for created components.
void makePath(const std::string &path, unsigned mode = 0755);

} // namespace vd
