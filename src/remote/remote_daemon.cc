// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "remote/remote_daemon.h"

#include <grp.h>
#include <unistd.h>

#include "remote/remote_daemon_dispatch.h"
#include "rpc/virnetdaemon.h"
#include "rpc/virnetserver.h"
#include "util/virerror.h"
#include "util/virfile.h"

namespace vd::remote {

namespace {

gid_t lookupGroup(const std::string &name)
{
    group grp{};
    group *found = nullptr;
    std::vector<char> buf(16384);
    if (getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found) != 0 || !found)
        throw Error(VIR_ERR_INVALID_ARG,
                    strprintf(_("group '%s' does not exist"), name.c_str()));
    return found->gr_gid;
}

// Removes a socket file we created when the server stops.
class SocketFile {
public:
    explicit SocketFile(std::string path) : path_(std::move(path)) {}
    ~SocketFile() { unlink(path_.c_str()); }
    SocketFile(const SocketFile &) = delete;
    SocketFile &operator=(const SocketFile &) = delete;

private:
    std::string path_;
};

bool isReadOnlySocket(const rpc::InheritedSocket &s)
{
    auto endsWith = [](const std::string &v, const std::string &suffix) {
        return v.size() >= suffix.size() &&
               v.compare(v.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (!s.name.empty() && s.name != "unknown")
        return endsWith(s.name, "-ro") || s.name == "ro";
    return endsWith(s.path, "-ro");
}

void serveOn(const Paths &paths, const ServeOptions &options, const rpc::ReadyFn &ready)
{
    rpc::ServerConfig config;
    config.workers = options.workers;
    if (options.group)
        config.allowedGroup = lookupGroup(*options.group);
    rpc::Server server(config, std::make_shared<RemoteProgram>(paths));

    std::vector<std::unique_ptr<SocketFile>> created;
    std::vector<rpc::InheritedSocket> inherited = rpc::takeSystemdSockets();
    makePath(socketDir(paths), 0755); // also holds the pid file
    if (!inherited.empty()) {
        for (auto &s : inherited)
            server.addListener(std::move(s.fd), isReadOnlySocket(s));
    } else {
        std::string rw = readWriteSocketPath(paths), ro = readOnlySocketPath(paths);
        server.addListener(rpc::Server::listenUnix(rw, config.allowedGroup ? 0660 : 0600,
                                                   config.allowedGroup),
                           false);
        created.push_back(std::make_unique<SocketFile>(rw));
        server.addListener(rpc::Server::listenUnix(ro, 0666), true);
        created.push_back(std::make_unique<SocketFile>(ro));
    }
    server.handleSignals();
    rpc::PidFile pidFile(socketDir(paths) + "/virt-direct-serve.pid");
    if (ready)
        ready("");
    server.run();
}

} // namespace

// Beside the driver's own run directory, like libvirtd's sockets next to
// /run/libvirt/qemu: /run/virt-direct/libvirt-sock, DIR/run/libvirt-sock.
std::string socketDir(const Paths &paths)
{
    return paths.root.empty() ? std::string("/run/virt-direct") : paths.root + "/run";
}

std::string readWriteSocketPath(const Paths &paths) { return socketDir(paths) + "/libvirt-sock"; }
std::string readOnlySocketPath(const Paths &paths) { return socketDir(paths) + "/libvirt-sock-ro"; }

void serve(const Paths &paths, const ServeOptions &options)
{
    rpc::ReadyFn ready;
    if (options.daemon)
        ready = rpc::daemonize();
    try {
        serveOn(paths, options, ready);
    } catch (const std::exception &e) {
        if (ready)
            ready(e.what());
        throw;
    }
}

} // namespace vd::remote
