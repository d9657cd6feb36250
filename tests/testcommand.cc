#include <config.h>

#include "testcommand.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "qemu/qemu_capabilities.h"
#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"

extern char **environ;

namespace vd::test {

std::string hostQemu()
{
    if (unitOnly())
        skip("needs QEMU (not run by make check-unit)");
    try {
        return qemu::findEmulator("", "x86_64");
    } catch (const vd::Error &) {
        skip("no qemu-system-x86_64 in $PATH");
    }
}

RunResult runProgram(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
    int outPipe[2], errPipe[2];
    if (::pipe2(outPipe, O_CLOEXEC) < 0)
        throw std::runtime_error("pipe failed");
    UniqueFd outR(outPipe[0]), outW(outPipe[1]);
    if (::pipe2(errPipe, O_CLOEXEC) < 0)
        throw std::runtime_error("pipe failed");
    UniqueFd errR(errPipe[0]), errW(errPipe[1]);

    std::vector<std::string> envStrings;
    for (char **e = environ; *e; ++e)
        envStrings.emplace_back(*e);
    for (const auto &e : env)
        envStrings.push_back(e);
    std::vector<char *> cargv, cenv;
    for (const auto &a : argv)
        cargv.push_back(const_cast<char *>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto &e : envStrings)
        cenv.push_back(const_cast<char *>(e.c_str()));
    cenv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(outW.get(), 1);
        ::dup2(errW.get(), 2);
        ::execve(cargv[0], cargv.data(), cenv.data());
        ::_exit(127);
    }
    outW.reset();
    errW.reset();

    RunResult result;
    struct pollfd fds[2] = {{outR.get(), POLLIN, 0}, {errR.get(), POLLIN, 0}};
    int open = 2;
    char buf[4096];
    while (open > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
            if (n > 0) {
                (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
            } else {
                fds[i].fd = -1;
                --open;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

RunResult runVirtDirect(const std::string &netns, const std::string &root,
                        const std::vector<std::string> &args)
{
    std::vector<std::string> argv;
    if (!netns.empty())
        argv = {IP_PATH, "netns", "exec", netns};
    argv.push_back(buildDir() + "/tools/virt-direct");
    argv.push_back("--root");
    argv.push_back(root);
    argv.insert(argv.end(), args.begin(), args.end());
    return runProgram(argv);
}

TempDir::TempDir()
{
    std::string tmpl = (std::filesystem::temp_directory_path() / "vdtest-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

} // namespace vd::test
