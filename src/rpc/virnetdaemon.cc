// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "rpc/virnetdaemon.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "util/virerror.h"

namespace vd::rpc {

namespace {

constexpr int ListenFdsStart = 3; // SD_LISTEN_FDS_START

std::string boundPath(int fd)
{
    sockaddr_un addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) < 0 ||
        addr.sun_family != AF_UNIX || addr.sun_path[0] == '\0')
        return "";
    return std::string(addr.sun_path, strnlen(addr.sun_path, sizeof(addr.sun_path)));
}

std::vector<std::string> splitNames(const char *names)
{
    std::vector<std::string> out;
    if (!names)
        return out;
    std::string s = names;
    size_t start = 0;
    for (;;) {
        size_t colon = s.find(':', start);
        out.push_back(s.substr(start, colon == std::string::npos ? colon : colon - start));
        if (colon == std::string::npos)
            return out;
        start = colon + 1;
    }
}

} // namespace

std::vector<InheritedSocket> takeSystemdSockets()
{
    std::vector<InheritedSocket> out;
    const char *pidEnv = std::getenv("LISTEN_PID");
    const char *fdsEnv = std::getenv("LISTEN_FDS");
    if (!pidEnv || !fdsEnv || std::strtol(pidEnv, nullptr, 10) != getpid()) {
        return out;
    }
    long n = std::strtol(fdsEnv, nullptr, 10);
    std::vector<std::string> names = splitNames(std::getenv("LISTEN_FDNAMES"));
    for (long i = 0; i < n && i < 64; ++i) {
        int fd = ListenFdsStart + static_cast<int>(i);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        InheritedSocket s;
        s.fd.reset(fd);
        s.name = static_cast<size_t>(i) < names.size() ? names[static_cast<size_t>(i)] : "";
        s.path = boundPath(fd);
        out.push_back(std::move(s));
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return out;
}

ReadyFn daemonize()
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd readEnd(p[0]), writeEnd(p[1]);
    pid_t pid = fork();
    if (pid < 0)
        raiseSystem(errno, _("cannot fork"));
    if (pid > 0) {
        writeEnd.reset();
        std::string msg;
        char buf[512];
        ssize_t r;
        while ((r = read(readEnd.get(), buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
            if (r > 0)
                msg.append(buf, static_cast<size_t>(r));
        if (msg == "ok")
            _exit(0);
        std::cerr << _("error: ") << (msg.empty() ? _("the daemon exited before it was ready")
                                                  : msg)
                  << std::endl;
        int status;
        waitpid(pid, &status, WNOHANG);
        _exit(1);
    }
    readEnd.reset();
    setsid();
    auto fd = std::make_shared<UniqueFd>(std::move(writeEnd));
    return [fd](const std::string &error) {
        if (!*fd)
            return;
        std::string msg = error.empty() ? "ok" : error;
        ssize_t w = write(fd->get(), msg.data(), msg.size());
        (void)w; // the parent is gone: nobody to tell
        fd->reset();
        if (!error.empty())
            return;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
    };
}

PidFile::PidFile(std::string path) : path_(std::move(path))
{
    writeFileAtomic(path_, std::to_string(getpid()) + "\n", 0644);
}

PidFile::~PidFile()
{
    unlink(path_.c_str());
}

} // namespace vd::rpc
