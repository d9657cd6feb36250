// Configuration commands: validate, define, undefine, list, dumpxml.
#include <config.h>

#include <iostream>

#include "util/virerror.h"
#include "util/virfile.h"
#include "vdcommands.h"
#include "vdtable.h"

namespace vd::tools {
namespace {

int cmdValidate(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    ctx.driver.validateXML(readFile(file));
    ctx.out << strprintf(_("%s validates"), file.c_str()) << "\n";
    return 0;
}

int cmdDefine(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    std::string name;
    reportFailureAs(ctx, strprintf(_("Failed to define domain from %s"), file.c_str()),
                    [&] { name = ctx.driver.defineXML(readFile(file)).name; });
    ctx.out << strprintf(_("Domain '%s' defined from %s"), name.c_str(), file.c_str()) << "\n\n";
    return 0;
}

int cmdUndefine(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    lookupDomain(ctx, name);
    reportFailureAs(ctx, strprintf(_("Failed to undefine domain '%s'"), name.c_str()),
                    [&] { ctx.driver.undefine(name); });
    ctx.out << strprintf(_("Domain '%s' has been undefined"), name.c_str()) << "\n\n";
    return 0;
}

int cmdList(Context &ctx, const Args &args)
{
    // virsh: --inactive wins over --all.
    unsigned flags = VIR_CONNECT_LIST_DOMAINS_ACTIVE;
    if (args.has("inactive"))
        flags = VIR_CONNECT_LIST_DOMAINS_INACTIVE;
    else if (args.has("all"))
        flags = 0;
    Table table({_("Id"), _("Name"), _("State")});
    for (const auto &d : ctx.driver.listDomains(flags)) {
        if (d.active())
            table.addRow({std::to_string(d.id), d.name, _("running")});
        else
            table.addRow({"-", d.name, _("shut off")});
    }
    ctx.out << table.render() << "\n";
    return 0;
}

int cmdDumpxml(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    lookupDomain(ctx, name);
    ctx.out << ctx.driver.getXMLDesc(name, args.has("inactive") ? VIR_DOMAIN_XML_INACTIVE : 0);
    return 0;
}

} // namespace

std::vector<Command> configCommands()
{
    return {
        {"validate", "validate FILE", N_("check a domain XML file against the schema and semantic rules"),
         {}, {}, 1, 1, cmdValidate},
        {"define", "define FILE", N_("define (but don't start) a domain from an XML file"),
         {}, {}, 1, 1, cmdDefine},
        {"undefine", "undefine NAME", N_("undefine a domain"), {}, {}, 1, 1, cmdUndefine},
        {"list", "list [--all] [--inactive]", N_("list domains"), {"all", "inactive"}, {}, 0, 0,
         cmdList},
        {"dumpxml", "dumpxml [--inactive] NAME", N_("domain information in XML"),
         {"inactive"}, {}, 1, 1, cmdDumpxml},
    };
}



} // namespace vd::tools
