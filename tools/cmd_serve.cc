// SPDX-License-Identifier: LGPL-2.1-or-later
// serve: libvirt's remote protocol for virsh, python-libvirt and friends.
#include <config.h>

#include <cstdlib>
#include <ostream>

#include "remote/remote_daemon.h"
#include "util/virerror.h"
#include "vdcommands.h"

namespace vd::tools {
namespace {

int cmdServe(Context &ctx, const Args &args)
{
    remote::ServeOptions options;
    options.daemon = args.has("daemon");
    if (std::string g = args.option("group"); !g.empty())
        options.group = g;
    if (std::string w = args.option("workers"); !w.empty()) {
        char *end = nullptr;
        long n = std::strtol(w.c_str(), &end, 10);
        if (*end != '\0' || n < 1 || n > 1024)
            throw CommandError(strprintf(_("invalid --workers value '%s'"), w.c_str()));
        options.workers = static_cast<unsigned>(n);
    }
    remote::serve(ctx.paths, options);
    return 0;
}

} // namespace

std::vector<Command> serveCommands()
{
    return {
        {"serve", "serve [--daemon] [--group NAME] [--workers N]",
         N_("serve libvirt's remote protocol on RUNDIR/libvirt-sock for virsh and other "
            "libvirt clients"),
         {"daemon"}, {"group", "workers"}, 0, 0, cmdServe},
    };
}

} // namespace vd::tools
