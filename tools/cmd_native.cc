// domxml-to-native: the QEMU command line `start` would run, creating nothing.
#include <config.h>

#include <iostream>

#include "util/virerror.h"
#include "util/virfile.h"
#include "vdcommands.h"

namespace vd::tools {
namespace {

int cmdDomxmlToNative(Context &ctx, const Args &args)
{
    ctx.out << ctx.driver.toNative(args.positional[0], readFile(args.positional[1]));
    return 0;
}

} // namespace

std::vector<Command> nativeCommands()
{
    return {
        {"domxml-to-native", "domxml-to-native qemu-argv FILE",
         N_("print the QEMU command line for a domain XML file"), {}, {}, 2, 2,
         cmdDomxmlToNative},
    };
}

} // namespace vd::tools
