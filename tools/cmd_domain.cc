// Commands for running domains: start, create, destroy, shutdown, domiflist,
// domif-setlink, domif-getlink, and the hidden supervise.
#include <config.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "conf/domain_store.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "qemu/qemu_process.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "vdcommands.h"
#include "vdtable.h"

namespace vd::tools {
namespace {

std::string selfExecutable()
{
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        raiseSystem(errno, _("cannot find the virt-direct executable"));
    return std::string(buf, static_cast<size_t>(n));
}

qemu::StartOptions startOptions(Context &ctx, const Args &args)
{
    qemu::StartOptions opts;
    opts.supervisorProgram = selfExecutable();
    const char *debug = std::getenv("VIRT_DIRECT_DEBUG");
    if (args.has("verbose") || (debug && *debug && std::string(debug) != "0")) {
        opts.phases = [&ctx](const std::string &phase, double seconds) {
            ctx.err << strprintf(_("phase %-36s %8.4f s"), phase.c_str(), seconds) << "\n";
        };
    }
    return opts;
}

// virsh reports an unknown domain on two lines; a transient domain is known
// only while it runs.
void requireKnown(Context &ctx, const std::string &name)
{
    if (conf::DomainStore(ctx.paths).isDefined(name) || qemu::findRunningDomain(ctx.paths, name))
        return;
    ctx.err << strprintf(_("error: failed to get domain '%s'"), name.c_str()) << "\n";
    conf::raiseNoDomain(name);
}

// Dying in the middle of a start would leave macvtaps and reserved names
// without an owner, or a running guest whose macvtaps were never brought up.
// So Ctrl-C, SIGTERM and SIGHUP are held back while starting: the wait for
// QEMU notices them and cancels the start, which rolls back; once start
// has finished or rolled back they are delivered as usual.
class HoldTerminationSignals {
public:
    HoldTerminationSignals()
    {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : {SIGINT, SIGTERM, SIGHUP})
            sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~HoldTerminationSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    HoldTerminationSignals(const HoldTerminationSignals &) = delete;
    HoldTerminationSignals &operator=(const HoldTerminationSignals &) = delete;

private:
    sigset_t old_;
};

void start(Context &ctx, const Args &args, conf::DomainDef &def)
{
    HoldTerminationSignals hold;
    qemu::startDomain(ctx.paths, def, startOptions(ctx, args));
}

int cmdStart(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    requireKnown(ctx, name);
    // Checked before loading the definition: a running transient domain
    // has none, and "no domain with matching name" would be wrong.
    if (qemu::findRunningDomain(ctx.paths, name))
        throw CommandError(strprintf(_("Domain '%s' is already active"), name.c_str()));
    reportFailureAs(ctx, strprintf(_("Failed to start domain '%s'"), name.c_str()), [&] {
        auto def = conf::DomainStore(ctx.paths).loadConfig(name);
        conf::validateDomainDef(*def);
        start(ctx, args, *def);
    });
    ctx.out << strprintf(_("Domain '%s' started"), name.c_str()) << "\n\n";
    return 0;
}

int cmdCreate(Context &ctx, const Args &args)
{
    const std::string &file = args.positional[0];
    conf::DomainStore store(ctx.paths);
    std::unique_ptr<conf::DomainDef> def;
    reportFailureAs(ctx, strprintf(_("Failed to create domain from %s"), file.c_str()), [&] {
        def = conf::parseAndValidateDomainXML(readFile(file), conf::PARSE_INACTIVE, true);
        conf::checkDomainName(def->name);
        conf::assignMacAddresses(*def, store.macsInUse(def->name));
        start(ctx, args, *def);
    });
    ctx.out << strprintf(_("Domain '%s' created from %s"), def->name.c_str(), file.c_str())
            << "\n\n";
    return 0;
}

int cmdDestroy(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    requireKnown(ctx, name);
    reportFailureAs(ctx, strprintf(_("Failed to destroy domain '%s'"), name.c_str()),
                    [&] { qemu::destroyDomain(ctx.paths, name); });
    ctx.out << strprintf(_("Domain '%s' destroyed"), name.c_str()) << "\n\n";
    return 0;
}

int cmdShutdown(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    requireKnown(ctx, name);
    reportFailureAs(ctx, strprintf(_("Failed to shutdown domain '%s'"), name.c_str()),
                    [&] { qemu::shutdownDomain(ctx.paths, name); });
    ctx.out << strprintf(_("Domain '%s' is being shutdown"), name.c_str()) << "\n\n";
    return 0;
}

// The live definition when running, else the persistent one.
std::unique_ptr<conf::DomainDef> currentDef(Context &ctx, const std::string &name)
{
    if (auto rd = qemu::findRunningDomain(ctx.paths, name))
        return std::move(rd->live);
    requireKnown(ctx, name);
    return conf::DomainStore(ctx.paths).loadConfig(name);
}

int cmdDomiflist(Context &ctx, const Args &args)
{
    auto def = currentDef(ctx, args.positional[0]);
    Table table({_("Interface"), _("Type"), _("Source"), _("Model"), _("MAC")});
    for (const auto &net : def->nets)
        table.addRow({net.ifname.empty() ? "-" : net.ifname, "direct", net.sourceDev,
                      net.model.empty() ? "-" : net.model, net.mac.str()});
    ctx.out << table.render() << "\n";
    return 0;
}

// The NIC `iface` names (its target dev or its MAC), or null.
const conf::NetDef *findInterface(const conf::DomainDef &def, const std::string &iface)
{
    auto mac = MacAddr::parse(iface);
    for (const auto &net : def.nets)
        if (net.ifname == iface || (mac && net.mac == *mac))
            return &net;
    return nullptr;
}

int cmdDomifSetlink(Context &ctx, const Args &args)
{
    const std::string &name = args.positional[0];
    const std::string &iface = args.positional[1];
    const std::string &state = args.positional[2];
    // virsh's order: the domain, the state word, then the interface.
    requireKnown(ctx, name);
    if (state != "up" && state != "down")
        throw CommandError(strprintf(_("invalid link state '%s'"), state.c_str()));
    if (!findInterface(*currentDef(ctx, name), iface))
        throw CommandError(strprintf(_("interface (%s: %s) not found"),
                                     MacAddr::parse(iface) ? "mac" : "target", iface.c_str()));
    qemu::setInterfaceLink(ctx.paths, name, iface, state == "up");
    ctx.out << _("Device updated successfully") << "\n\n";
    return 0;
}

int cmdDomifGetlink(Context &ctx, const Args &args)
{
    const std::string &iface = args.positional[1];
    auto def = currentDef(ctx, args.positional[0]);
    if (const conf::NetDef *net = findInterface(*def, iface)) {
        bool down = net->linkState == conf::NetDef::LinkState::Down;
        ctx.out << iface << " " << (down ? "down" : "up") << "\n";
        return 0;
    }
    if (auto mac = MacAddr::parse(iface))
        throw CommandError(strprintf(_("Interface (mac: %s) not found."), mac->str().c_str()));
    throw CommandError(strprintf(_("Interface (dev: %s) not found."), iface.c_str()));
}

int cmdSupervise(Context &, const Args &) { return qemu::supervisorProcessMain(); }

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
