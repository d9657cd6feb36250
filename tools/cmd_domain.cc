// Commands for running domains: start, create, destroy, shutdown, domiflist,
// domif-setlink, domif-getlink, and the hidden supervise.
#include <config.h>

#include <cstdlib>
#include <iostream>

#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virmacaddr.h"
#include "vdcommands.h"
#include "vdtable.h"

namespace vd::tools {
namespace {

qemu::StartParams startParams(Context &ctx, const Args &args)
{
    qemu::StartParams params;
    const char *debug = std::getenv("VIRT_DIRECT_DEBUG");
    if (args.has("verbose") || (debug && *debug && std::string(debug) != "0")) {
        params.phases = [&ctx](const std::string &phase, double seconds) {
            ctx.err << strprintf(_("phase %-36s %8.4f s"), phase.c_str(), seconds) << "\n";
        };
    }
    return params;
}

int cmdStart(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    // virsh checks this itself, before asking for the start.
    if (lookupDomain(ctx, name).active())
        throw CommandError(strprintf(_("Domain '%s' is already active"), name.c_str()));
    reportFailureAs(ctx, strprintf(_("Failed to start domain '%s'"), name.c_str()),
                    [&] { ctx.driver.start(name, startParams(ctx, args)); });
    ctx.out << strprintf(_("Domain '%s' started"), name.c_str()) << "\n\n";
    return 0;
}

int cmdCreate(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    std::string name;
    reportFailureAs(ctx, strprintf(_("Failed to create domain from %s"), file.c_str()), [&] {
        name = ctx.driver.createXML(readFile(file), startParams(ctx, args)).name;
    });
    ctx.out << strprintf(_("Domain '%s' created from %s"), name.c_str(), file.c_str())
            << "\n\n";
    return 0;
}

int cmdDestroy(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    lookupDomain(ctx, name);
    reportFailureAs(ctx, strprintf(_("Failed to destroy domain '%s'"), name.c_str()),
                    [&] { ctx.driver.destroy(name); });
    ctx.out << strprintf(_("Domain '%s' destroyed"), name.c_str()) << "\n\n";
    return 0;
}

int cmdShutdown(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    lookupDomain(ctx, name);
    reportFailureAs(ctx, strprintf(_("Failed to shutdown domain '%s'"), name.c_str()),
                    [&] { ctx.driver.shutdown(name); });
    ctx.out << strprintf(_("Domain '%s' is being shutdown"), name.c_str()) << "\n\n";
    return 0;
}

int cmdDomiflist(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    lookupDomain(ctx, name);
    Table table({_("Interface"), _("Type"), _("Source"), _("Model"), _("MAC")});
    for (const auto &i : ctx.driver.interfaces(name))
        table.addRow({i.target.empty() ? "-" : i.target, i.type, i.source,
                      i.model.empty() ? "-" : i.model, i.mac});
    ctx.out << table.render() << "\n";
    return 0;
}

// virsh looks the interface up in the domain XML itself and words its own
// error, with the kind of name it was given.
bool looksLikeMac(const std::string &iface) { return MacAddr::parse(iface).has_value(); }

int cmdDomifSetlink(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    const std::string &iface = args.positional[1];
    const std::string &state = args.positional[2];
    // virsh's order: the domain, the state word, then the interface.
    lookupDomain(ctx, name);
    if (state != "up" && state != "down")
        throw CommandError(strprintf(_("invalid link state '%s'"), state.c_str()));
    if (!ctx.driver.findInterface(name, iface))
        throw CommandError(strprintf(_("interface (%s: %s) not found"),
                                     looksLikeMac(iface) ? "mac" : "target", iface.c_str()));
    ctx.driver.setLink(name, iface, state == "up");
    ctx.out << _("Device updated successfully") << "\n\n";
    return 0;
}

int cmdDomifGetlink(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    const std::string &iface = args.positional[1];
    lookupDomain(ctx, name);
    if (auto found = ctx.driver.findInterface(name, iface)) {
        ctx.out << iface << " " << (found->linkUp ? "up" : "down") << "\n";
        return 0;
    }
    if (auto mac = MacAddr::parse(iface))
        throw CommandError(strprintf(_("Interface (mac: %s) not found."), mac->str().c_str()));
    throw CommandError(strprintf(_("Interface (dev: %s) not found."), iface.c_str()));
}

int cmdSupervise(Context &, const Args &) { return qemu::superviseMain(); }

} // namespace

std::vector<Command> domainCommands()
{
    return {
        {"start", "start [--verbose] NAME", N_("start a (previously defined) inactive domain"),
         {"verbose"}, {}, 1, 1, cmdStart},
        {"create", "create [--verbose] FILE", N_("create a transient domain from an XML file"),
         {"verbose"}, {}, 1, 1, cmdCreate},
        {"destroy", "destroy NAME", N_("destroy (stop) a domain"), {}, {}, 1, 1, cmdDestroy},
        {"shutdown", "shutdown NAME", N_("gracefully shut down a domain (ACPI power button)"),
         {}, {}, 1, 1, cmdShutdown},
        {"domiflist", "domiflist NAME", N_("list the domain's virtual interfaces"), {}, {}, 1, 1,
         cmdDomiflist},
        {"domif-setlink", "domif-setlink NAME IFACE up|down",
         N_("set the link state of a virtual interface"), {}, {}, 3, 3, cmdDomifSetlink},
        {"domif-getlink", "domif-getlink NAME IFACE",
         N_("get the link state of a virtual interface"), {}, {}, 2, 2, cmdDomifGetlink},
        // Internal: the per-domain supervisor process, exec'ed by start.
        {"supervise", nullptr, nullptr, {}, {}, 1, 1, cmdSupervise},
    };
}

} // namespace vd::tools
