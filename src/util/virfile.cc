#include <config.h>

#include "util/virfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/virerror.h"

namespace vd {

void UniqueFd::reset(int fd) noexcept
{
    if (fd_ >= 0) {
        // close() must not be retried on EINTR on Linux: the fd is gone.
        ::close(fd_);
    }
    fd_ = fd;
}

static std::string dirName(const std::string &path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

void writeFileAtomic(const std::string &path, const std::string &contents, unsigned mode)
{
    std::string tmpl = path + ".XXXXXX";
    UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd)
        raiseSystem(errno, strprintf(_("cannot create temporary file for '%s'"), path.c_str()));

    // From here on, any failure must remove the temporary file.
    struct TmpGuard {
        std::string name;
        bool armed = true;
        ~TmpGuard() { if (armed) ::unlink(name.c_str()); }
    } guard{tmpl};

    if (::fchmod(fd.get(), mode) < 0)
        raiseSystem(errno, strprintf(_("cannot set mode of '%s'"), tmpl.c_str()));

    const char *p = contents.data();
    size_t left = contents.size();
    while (left > 0) {
        ssize_t n = ::write(fd.get(), p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            raiseSystem(errno, strprintf(_("cannot write '%s'"), tmpl.c_str()));
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) < 0)
        raiseSystem(errno, strprintf(_("cannot sync '%s'"), tmpl.c_str()));
    if (::close(fd.release()) < 0)
        raiseSystem(errno, strprintf(_("cannot close '%s'"), tmpl.c_str()));
    if (::rename(tmpl.c_str(), path.c_str()) < 0)
        raiseSystem(errno, strprintf(_("cannot rename '%s' to '%s'"), tmpl.c_str(), path.c_str()));
    guard.armed = false;

    // Make the rename itself durable.
    UniqueFd dir(::open(dirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir)
        ::fsync(dir.get());
}

std::string readFile(const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        raiseSystem(errno, strprintf(_("Failed to open file '%s'"), path.c_str()));
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            raiseSystem(errno, strprintf(_("Failed to read file '%s'"), path.c_str()));
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

void makePath(const std::string &path, unsigned mode)
{
    if (path.empty())
        return;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            raiseSystem(ENOTDIR, strprintf(_("cannot create directory '%s'"), path.c_str()));
        return;
    }
    std::string parent = dirName(path);
    if (parent != path)
        makePath(parent, mode);
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST)
        raiseSystem(errno, strprintf(_("cannot create directory '%s'"), path.c_str()));
}

} // namespace vd
