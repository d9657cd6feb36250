#include <config.h>

#include "conf/domain_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "conf/domain_xml.h"
#include "util/virerror.h"
#include "util/virfile.h"

namespace vd::conf {

void raiseNoDomain(const std::string &name)
{
    throw Error(VIR_ERR_NO_DOMAIN,
                strprintf(_("no domain with matching name '%s'"), name.c_str()),
                VIR_FROM_QEMU);
}

void checkDomainName(const std::string &name)
{
    if (name.empty())
        raiseXmlError(_("domain name must not be empty"));
    if (name.find('/') != std::string::npos)
        raiseXmlError(strprintf(_("name %s cannot contain '/'"), name.c_str()));
    if (name == "." || name == ".." || name.front() == '.')
        raiseXmlError(strprintf(_("name '%s' must not start with '.'"), name.c_str()));
}

std::vector<std::string> DomainStore::definedNames() const
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(paths_.configDir, ec)) {
        std::string file = entry.path().filename().string();
        // Skip temporaries of an interrupted atomic write (NAME.xml.XXXXXX).
        if (file.size() > 4 && file.compare(file.size() - 4, 4, ".xml") == 0 && file[0] != '.')
            names.push_back(file.substr(0, file.size() - 4));
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool DomainStore::isDefined(const std::string &name) const
{
    checkDomainName(name);
    return ::access(paths_.domainConfigPath(name).c_str(), F_OK) == 0;
}

std::string DomainStore::loadConfigXML(const std::string &name) const
{
    if (!isDefined(name))
        raiseNoDomain(name);
    return readFile(paths_.domainConfigPath(name));
}

std::unique_ptr<DomainDef> DomainStore::loadConfig(const std::string &name) const
{
    return parseDomainXML(loadConfigXML(name), PARSE_INACTIVE);
}

void DomainStore::saveConfig(const DomainDef &def) const
{
    checkDomainName(def.name);
    makePath(paths_.configDir, 0755);
    writeFileAtomic(paths_.domainConfigPath(def.name), formatDomainXML(def, FORMAT_INACTIVE),
                    0600);
}

void DomainStore::removeConfig(const std::string &name) const
{
    if (!isDefined(name))
        raiseNoDomain(name);
    std::string path = paths_.domainConfigPath(name);
    if (::unlink(path.c_str()) < 0)
        raiseSystem(errno, strprintf(_("cannot remove config %s"), path.c_str()));
}

std::set<MacAddr> DomainStore::macsInUse(const std::string &except) const
{
    std::set<MacAddr> macs;
    for (const auto &name : definedNames()) {
        if (name == except)
            continue;
        try {
            for (const auto &net : loadConfig(name)->nets)
                macs.insert(net.mac);
        } catch (const Error &) {
            // A broken foreign file must not block defining other domains.
        }
    }
    return macs;
}

std::string DomainStore::nameForUuid(const std::array<unsigned char, 16> &uuid,
                                     const std::string &except) const
{
    for (const auto &name : definedNames()) {
        if (name == except)
            continue;
        try {
            if (loadConfig(name)->uuid == uuid)
                return name;
        } catch (const Error &) {
        }
    }
    return {};
}

} // namespace vd::conf
