// Where virt-direct keeps its state.  The system layout mirrors libvirt's
// (/etc, /run, /var/lib, /var/cache); --root DIR (or VIRT_DIRECT_ROOT) puts
// everything under DIR like libvirt's embedded driver: DIR/etc, DIR/run,
// DIR/lib, DIR/cache.
#pragma once

#include <string>

namespace vd {

struct Paths {
    std::string root;      // empty for the system layout
    std::string configDir; // persistent domain definitions (NAME.xml)
    std::string runDir;    // runtime state: live XML, pid, QMP sockets, name pool
    std::string stateDir;  // persistent state that is not configuration
    std::string cacheDir;  // capability cache

    // `root` empty = system layout.
    static Paths forRoot(const std::string &root);
    // --root if given, else $VIRT_DIRECT_ROOT, else the system layout.
    static Paths fromEnvironment(const std::string &rootOption);

    std::string domainConfigPath(const std::string &name) const
    {
        return configDir + "/" + name + ".xml";
    }
    std::string domainRunPath(const std::string &name) const
    {
        return runDir + "/" + name + ".xml";
    }
};

} // namespace vd
