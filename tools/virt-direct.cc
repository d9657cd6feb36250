// virt-direct: a virsh-like front end for QEMU guests with direct (macvtap)
// NICs.  Usage: virt-direct [--root DIR] COMMAND [ARGS...]
#include <config.h>

#include <algorithm>
#include <cstring>
#include <iostream>

#include "util/virerror.h"
#include "vdcommands.h"

namespace vd::tools {

bool Args::has(const std::string &flag) const
{
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string Args::option(const std::string &name, const std::string &fallback) const
{
    for (const auto &[key, value] : options)
        if (key == name)
            return value;
    return fallback;
}

qemu::DomainInfo lookupDomain(Context &ctx, const std::string &name)
{
    try {
        return ctx.driver.lookupByName(name);
    } catch (const Error &e) {
        if (e.code() == VIR_ERR_NO_DOMAIN)
            ctx.err << strprintf(_("error: failed to get domain '%s'"), name.c_str()) << "\n";
        throw;
    }
}

namespace {

std::vector<Command> allCommands()
{
    std::vector<Command> all = configCommands();
    for (auto &c : domainCommands())
        all.push_back(std::move(c));
    for (auto &c : nativeCommands())
        all.push_back(std::move(c));
    for (auto &c : serveCommands())
        all.push_back(std::move(c));
    return all;
}

void printUsage(std::ostream &out, const std::vector<Command> &commands)
{
    out << _("Usage: virt-direct [--root DIR] COMMAND [ARGS...]") << "\n\n"
        << _("Options:") << "\n"
        << "  --root DIR     " << _("keep all state under DIR (also $VIRT_DIRECT_ROOT)") << "\n"
        << "  -h, --help     " << _("show this help") << "\n"
        << "  -V, --version  " << _("show the version") << "\n\n"
        << _("Commands:") << "\n";
    for (const auto &c : commands) {
        if (!c.synopsis)
            continue;
        std::string syn = c.synopsis;
        out << "  " << syn;
        if (syn.size() < 40)
            out << std::string(40 - syn.size(), ' ');
        else
            out << "\n" << std::string(42, ' ');
        out << _(c.help) << "\n";
    }
}

Args parseArgs(const Command &cmd, const std::vector<std::string> &words)
{
    Args args;
    bool onlyPositional = false;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string &w = words[i];
        if (!onlyPositional && w == "--") {
            onlyPositional = true;
        } else if (!onlyPositional && w.size() > 2 && w.compare(0, 2, "--") == 0) {
            std::string name = w.substr(2);
            std::string value;
            bool hasValue = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                hasValue = true;
            }
            if (std::find(cmd.valueOptions.begin(), cmd.valueOptions.end(), name) !=
                cmd.valueOptions.end()) {
                if (!hasValue) {
                    if (i + 1 >= words.size())
                        throw CommandError(
                            strprintf(_("option --%s requires a value"), name.c_str()));
                    value = words[++i];
                }
                args.options.emplace_back(name, value);
            } else if (!hasValue && std::find(cmd.flags.begin(), cmd.flags.end(), name) !=
                                        cmd.flags.end()) {
                args.flags.push_back(name);
            } else {
                throw CommandError(strprintf(_("command '%s' doesn't support option --%s"),
                                             cmd.name, name.c_str()));
            }
        } else {
            args.positional.push_back(w);
        }
    }
    if (args.positional.size() < cmd.minArgs)
        throw CommandError(strprintf(_("command '%s' requires more arguments; usage: %s"),
                                     cmd.name, cmd.synopsis ? cmd.synopsis : cmd.name));
    if (args.positional.size() > cmd.maxArgs)
        throw CommandError(
            strprintf(_("unexpected data '%s'"), args.positional[cmd.maxArgs].c_str()));
    return args;
}

} // namespace
} // namespace vd::tools

int main(int argc, char **argv)
{
    using namespace vd::tools;
    vd::initGettext();
    std::vector<Command> commands = allCommands();

    std::string root;
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--root" && i + 1 < argc) {
            root = argv[++i];
        } else if (a.compare(0, 7, "--root=") == 0) {
            root = a.substr(7);
        } else if (a == "-h" || a == "--help") {
            printUsage(std::cout, commands);
            return 0;
        } else if (a == "-V" || a == "--version") {
            std::cout << PACKAGE_NAME << " " << PACKAGE_VERSION << "\n";
            return 0;
        } else if (a == "--root") {
            std::cerr << _("error: option --root requires a value") << "\n";
            return 1;
        } else if (!a.empty() && a[0] == '-') {
            std::cerr << vd::strprintf(_("error: unknown option '%s'"), a.c_str()) << "\n";
            return 1;
        } else {
            break;
        }
    }
    if (i >= argc) {
        printUsage(std::cerr, commands);
        return 1;
    }
    std::string name = argv[i++];
    if (name == "help") {
        printUsage(std::cout, commands);
        return 0;
    }
    auto it = std::find_if(commands.begin(), commands.end(),
                           [&](const Command &c) { return name == c.name; });
    if (it == commands.end()) {
        std::cerr << vd::strprintf(_("error: unknown command: '%s'"), name.c_str()) << "\n";
        return 1;
    }
    std::vector<std::string> words(argv + i, argv + argc);
    vd::Paths paths = vd::Paths::fromEnvironment(root);
    Context ctx{paths, std::cout, std::cerr, vd::qemu::Driver(paths)};
    try {
        Args args = parseArgs(*it, words);
        int rc = it->run(ctx, args);
        std::cout.flush();
        return rc;
    } catch (const vd::Error &e) {
        std::cout.flush();
        std::cerr << _("error: ") << e.what() << std::endl;
        return 1;
    } catch (const std::exception &e) {
        std::cout.flush();
        std::cerr << _("error: ") << e.what() << std::endl;
        return 1;
    }
}
