// The virt-direct command table.  Each command gets its arguments (after the
// command name) and the context; it throws vd::Error on failure.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "util/virpaths.h"

namespace vd::tools {

struct Context {
    Paths paths;
    std::ostream &out;
    std::ostream &err;
};

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
    const char *synopsis; // untranslated usage line
    const char *help;     // translatable one-line description (N_())
    std::vector<std::string> flags;       // accepted --flags
    std::vector<std::string> valueOptions; // accepted --opt VALUE
    size_t minArgs;
    size_t maxArgs;
    std::function<int(Context &, const Args &)> run;
};

// Registered by the cmd_*.cc files.
std::vector<Command> configCommands();
std::vector<Command> nativeCommands();

} // namespace vd::tools
