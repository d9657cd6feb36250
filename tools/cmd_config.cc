// Configuration commands: validate, define, undefine, list, dumpxml.
#include <config.h>

#include <iostream>
#include <set>

#include "conf/domain_store.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "vdcommands.h"
#include "vdtable.h"

namespace vd::tools {
namespace {

using conf::DomainStore;

// Read, parse, schema-check and semantically validate a domain file.
std::unique_ptr<conf::DomainDef> loadAndValidate(const std::string &file)
{
    return conf::parseAndValidateDomainXML(readFile(file), conf::PARSE_INACTIVE, true);
}

// virsh reports a missing domain on two lines.
void requireDefined(Context &ctx, const DomainStore &store, const std::string &name)
{
    if (!store.isDefined(name)) {
        ctx.err << strprintf(_("error: failed to get domain '%s'"), name.c_str()) << "\n";
        conf::raiseNoDomain(name);
    }
}

int cmdValidate(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    loadAndValidate(file);
    ctx.out << strprintf(_("%s validates"), file.c_str()) << "\n";
    return 0;
}

int cmdDefine(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    DomainStore store(ctx.paths);
    auto def = loadAndValidate(file);
    conf::checkDomainName(def->name);

    // Keep the identity of an existing definition of the same name.
    if (store.isDefined(def->name)) {
        auto old = store.loadConfig(def->name);
        if (def->uuidGenerated)
            def->uuid = old->uuid;
        else if (old->uuid != def->uuid)
            throw Error(VIR_ERR_OPERATION_FAILED,
                        strprintf(_("domain '%s' is already defined with uuid %s"),
                                  def->name.c_str(), conf::uuidToString(old->uuid).c_str()),
                        VIR_FROM_QEMU);
    }
    std::string other = store.nameForUuid(def->uuid, def->name);
    if (!other.empty())
        throw Error(VIR_ERR_OPERATION_FAILED,
                    strprintf(_("domain '%s' already exists with uuid %s"), other.c_str(),
                              conf::uuidToString(def->uuid).c_str()),
                    VIR_FROM_QEMU);

    conf::assignMacAddresses(*def, store.macsInUse(def->name));
    store.saveConfig(*def);
    ctx.out << strprintf(_("Domain '%s' defined from %s"), def->name.c_str(), file.c_str())
            << "\n\n";
    return 0;
}

int cmdUndefine(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    DomainStore store(ctx.paths);
    requireDefined(ctx, store, name);
    store.removeConfig(name);
    ctx.out << strprintf(_("Domain '%s' has been undefined"), name.c_str()) << "\n\n";
    return 0;
}

int cmdList(Context &ctx, const Args &args)
{
    DomainStore store(ctx.paths);
    Table table({_("Id"), _("Name"), _("State")});
    bool all = args.has("all") || args.has("inactive");
    if (all) {
        for (const auto &name : store.definedNames())
            table.addRow({"-", name, _("shut off")});
    }
    ctx.out << table.render() << "\n";
    return 0;
}

int cmdDumpxml(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    DomainStore store(ctx.paths);
    requireDefined(ctx, store, name);
    auto def = store.loadConfig(name);
    ctx.out << conf::formatDomainXML(*def, conf::FORMAT_INACTIVE);
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

std::vector<Command> nativeCommands() { return {}; }

} // namespace vd::tools
