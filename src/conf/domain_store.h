// Persistent domain definitions: one XML file per domain in Paths::configDir,
// written atomically with mode 0600.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "conf/domain_conf.h"
#include "util/virpaths.h"

namespace vd::conf {

class DomainStore {
public:
    explicit DomainStore(Paths paths) : paths_(std::move(paths)) {}

    const Paths &paths() const { return paths_; }

    // Names of all defined domains, sorted.
    std::vector<std::string> definedNames() const;
    bool isDefined(const std::string &name) const;

    // Throws VIR_ERR_NO_DOMAIN when there is no such definition.
    std::unique_ptr<DomainDef> loadConfig(const std::string &name) const;
    // Raw XML of a definition (as stored).
    std::string loadConfigXML(const std::string &name) const;

    // Write the inactive XML of `def` atomically; an existing definition is
    // replaced only once the new file is complete on disk.
    void saveConfig(const DomainDef &def) const;
    void removeConfig(const std::string &name) const;

    // MAC addresses used by every defined domain other than `except`.
    std::set<MacAddr> macsInUse(const std::string &except) const;

    // The domain of another name that has this UUID, if any.
    std::string nameForUuid(const std::array<unsigned char, 16> &uuid,
                            const std::string &except) const;

private:
    Paths paths_;
};

// Throw VIR_ERR_NO_DOMAIN for `name` in virsh's words.
[[noreturn]] void raiseNoDomain(const std::string &name);

// Domain names become file names: refuse anything that is not a plain name.
void checkDomainName(const std::string &name);

} // namespace vd::conf
