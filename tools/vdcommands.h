// The virt-direct command table.  Each command gets its arguments (after the
// command name) and the context; it throws vd::Error on failure.
#pragma once

#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "qemu/qemu_driver.h"
#include "util/virerror.h"
#include "util/virpaths.h"

namespace vd::tools {

struct Context {
    Paths paths;
    std::ostream &out;
    std::ostream &err;
    qemu::Driver driver; // every decision is the driver's
};

// virsh looks a domain up before acting on it and reports an unknown one
// on two lines ("error: failed to get domain 'x'", then libvirt's error).
qemu::DomainInfo lookupDomain(Context &ctx, const std::string &name);

// An error virsh reports itself (bad usage, an interface missing from the
// domain XML), not one from libvirt: printed as "error: MESSAGE" without a
// virterror prefix such as "invalid argument: ".
class CommandError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Run `operation`; if it fails with a libvirt-style error, first print
// virsh's own line for the failed action ("error: Failed to start domain
// 'x'"), as virsh does before the libvirt error itself.
template <typename F>
void reportFailureAs(Context &ctx, const std::string &virshLine, F &&operation);

// Parsed arguments of one command: positional words plus --flags, with
// --opt VALUE for options declared as taking a value.
struct Args {
    std::vector<std::string> positional;
    std::vector<std::string> flags;
    std::vector<std::pair<std::string, std::string>> options;

    bool has(const std::string &flag) const;
    std::string option(const std::string &name, const std::string &fallback = "") const;
};

struct Command {
    const char *name;
    const char *synopsis; // untranslated usage line; null = hidden command
    const char *help;     // translatable one-line description (N_())
    std::vector<std::string> flags;       // accepted --flags
    std::vector<std::string> valueOptions; // accepted --opt VALUE
    size_t minArgs;
    size_t maxArgs;
    std::function<int(Context &, const Args &)> run;
};

template <typename F>
void reportFailureAs(Context &ctx, const std::string &virshLine, F &&operation)
{
    try {
        operation();
    } catch (const Error &) {
        ctx.err << "error: " << virshLine << "\n";
        throw;
    }
}

// Registered by the cmd_*.cc files.
std::vector<Command> configCommands();
std::vector<Command> nativeCommands();
std::vector<Command> domainCommands();
std::vector<Command> serveCommands();

} // namespace vd::tools
