#include <config.h>

#include "conf/domain_schema.h"

#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "conf/domain_xml.h"
#include "conf/virxml.h"
#include "util/virerror.h"

namespace vd::conf {

namespace {
struct RngParserFree {
    void operator()(xmlRelaxNGParserCtxt *p) const { xmlRelaxNGFreeParserCtxt(p); }
};
struct RngFree {
    void operator()(xmlRelaxNG *p) const { xmlRelaxNGFree(p); }
};
struct RngValidFree {
    void operator()(xmlRelaxNGValidCtxt *p) const { xmlRelaxNGFreeValidCtxt(p); }
};

// Collects libxml's structured errors as "line N: element X: message" lines.
void collectError(void *userData, const xmlError *err)
{
    auto *out = static_cast<std::string *>(userData);
    std::string msg = err->message ? err->message : "";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
        msg.pop_back();
    const auto *node = static_cast<const xmlNode *>(err->node);
    if (node && node->type == XML_ELEMENT_NODE)
        *out += strprintf("line %d: element %s: %s\n", err->line,
                          reinterpret_cast<const char *>(node->name), msg.c_str());
    else if (err->line > 0)
        *out += strprintf("line %d: %s\n", err->line, msg.c_str());
    else
        *out += msg + "\n";
}

#if LIBXML_VERSION >= 21200
void structuredError(void *userData, const xmlError *err) { collectError(userData, err); }
#else
void structuredError(void *userData, xmlError *err) { collectError(userData, err); }
#endif

// Compiling a grammar (libvirt's is large) costs far more than validating
// with it, so each schema is compiled once per process and kept.
xmlRelaxNG *compiledSchema(const std::string &rngPath)
{
    static std::mutex lock;
    static std::map<std::string, std::unique_ptr<xmlRelaxNG, RngFree>> cache;
    std::lock_guard<std::mutex> guard(lock);
    if (auto it = cache.find(rngPath); it != cache.end())
        return it->second.get();

    std::string errors;
    std::unique_ptr<xmlRelaxNGParserCtxt, RngParserFree> pctxt(
        xmlRelaxNGNewParserCtxt(rngPath.c_str()));
    if (!pctxt)
        raiseInternal(strprintf(_("Unable to create RNG parser for %s"), rngPath.c_str()));
    xmlRelaxNGSetParserStructuredErrors(pctxt.get(), structuredError, &errors);
    std::unique_ptr<xmlRelaxNG, RngFree> rng(xmlRelaxNGParse(pctxt.get()));
    if (!rng)
        raiseInternal(strprintf(_("Unable to parse RNG %s: %s"), rngPath.c_str(),
                                errors.c_str()));
    xmlRelaxNG *raw = rng.get();
    cache.emplace(rngPath, std::move(rng));
    return raw;
}

bool hasSchema(const std::string &dir)
{
    return access((dir + "/domain.rng").c_str(), R_OK) == 0;
}
} // namespace

std::string domainSchemaDir()
{
    if (const char *env = std::getenv("VD_SCHEMADIR"); env && *env)
        return env;
    if (hasSchema(SCHEMADIR))
        return SCHEMADIR;
    return SRCSCHEMADIR;
}

void validateXMLAgainstSchema(const std::string &text, const std::string &rngPath)
{
    xml::DocPtr doc = xml::parseDocument(text, "(domain_definition)");
    std::string errors;

    xmlRelaxNG *rng = compiledSchema(rngPath);
    std::unique_ptr<xmlRelaxNGValidCtxt, RngValidFree> vctxt(xmlRelaxNGNewValidCtxt(rng));
    if (!vctxt)
        raiseInternal(strprintf(_("Unable to create RNG validation context %s"),
                                rngPath.c_str()));
    xmlRelaxNGSetValidStructuredErrors(vctxt.get(), structuredError, &errors);
    if (xmlRelaxNGValidateDoc(vctxt.get(), doc.get()) != 0) {
        while (!errors.empty() && errors.back() == '\n')
            errors.pop_back();
        throw Error(VIR_ERR_XML_INVALID_SCHEMA,
                    strprintf(_("Unable to validate doc against %s\n%s"), rngPath.c_str(),
                              errors.c_str()),
                    VIR_FROM_XML);
    }
}

void validateDomainSchema(const std::string &text)
{
    // The parser refuses what we do not support, naming the element, and
    // reports bad values in libvirt's words; the grammar catches the rest.
    parseDomainXML(text, 0);
    validateXMLAgainstSchema(text, domainSchemaDir() + "/domain.rng");
}

} // namespace vd::conf
