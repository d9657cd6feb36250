#include <config.h>

#include "conf/domain_schema.h"

#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "conf/domain_xml.h"
#include "util/virxml.h"
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

    if (access(rngPath.c_str(), R_OK) != 0)
        raiseSystem(errno, strprintf(_("cannot read schema %s"), rngPath.c_str()));
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

bool validates(xmlRelaxNG *rng, xmlDoc *doc)
{
    std::unique_ptr<xmlRelaxNGValidCtxt, RngValidFree> v(xmlRelaxNGNewValidCtxt(rng));
    if (!v)
        return false;
    std::string ignored;
    xmlRelaxNGSetValidStructuredErrors(v.get(), structuredError, &ignored);
    return xmlRelaxNGValidateDoc(v.get(), doc) == 0;
}

struct DocFree {
    void operator()(xmlDoc *d) const { xmlFreeDoc(d); }
};

xmlNode *elementAt(xmlDoc *doc, const std::vector<size_t> &path)
{
    xmlNode *n = xmlDocGetRootElement(doc);
    for (size_t idx : path) {
        auto kids = xml::children(n);
        n = kids.at(idx);
    }
    return n;
}

// libxml2 reports a mismatch inside <interleave> only at the parent
// ("Extra element devices in interleave"), which tells users little.  On
// failure we narrow it down: descend into the child whose removal makes the
// document valid, then try dropping each attribute of that element.  Works
// when there is a single problem; otherwise returns "" and libxml's own
// messages stand alone.
std::string pinpoint(xmlRelaxNG *rng, xmlDoc *doc)
{
    std::vector<size_t> path;
    for (bool descended = true; descended;) {
        descended = false;
        auto kids = xml::children(elementAt(doc, path));
        for (size_t i = 0; i < kids.size(); ++i) {
            std::unique_ptr<xmlDoc, DocFree> copy(xmlCopyDoc(doc, 1));
            if (!copy)
                return {};
            auto childPath = path;
            childPath.push_back(i);
            xmlNode *victim = elementAt(copy.get(), childPath);
            xmlUnlinkNode(victim);
            xmlFreeNode(victim);
            if (validates(rng, copy.get())) {
                path = childPath;
                descended = true;
                break;
            }
        }
    }
    if (path.empty())
        return {};
    xmlNode *bad = elementAt(doc, path);
    std::string elem(xml::name(bad));
    size_t attrIndex = 0;
    for (xmlAttr *a = bad->properties; a; a = a->next, ++attrIndex) {
        std::unique_ptr<xmlDoc, DocFree> copy(xmlCopyDoc(doc, 1));
        if (!copy)
            return {};
        xmlNode *target = elementAt(copy.get(), path);
        xmlAttr *ca = target->properties;
        for (size_t k = 0; k < attrIndex; ++k)
            ca = ca->next;
        xmlRemoveProp(ca);
        if (validates(rng, copy.get())) {
            std::string an = reinterpret_cast<const char *>(a->name);
            std::string value = xml::prop(bad, an.c_str()).value_or("");
            return strprintf(_("line %ld: attribute '%s' of element '%s' has a value the "
                               "schema does not allow: '%s'"),
                             xmlGetLineNo(bad), an.c_str(), elem.c_str(), value.c_str());
        }
    }
    // Show the element as written (start tag, and text when it has no
    // children) so the user sees the offending values.
    std::string shown = "<" + elem;
    for (xmlAttr *a = bad->properties; a; a = a->next) {
        std::string an = reinterpret_cast<const char *>(a->name);
        shown += " " + an + "='" + xml::escape(xml::prop(bad, an.c_str()).value_or("")) + "'";
    }
    if (xml::children(bad).empty() && !xml::content(bad).empty())
        shown += ">" + xml::escape(xml::content(bad)) + "</" + elem + ">";
    else
        shown += xml::children(bad).empty() ? "/>" : ">";
    std::string parent(xml::name(bad->parent));
    return strprintf(_("line %ld: element %s in '%s' does not match the schema"),
                     xmlGetLineNo(bad), shown.c_str(), parent.c_str());
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
        std::string where = pinpoint(rng, doc.get());
        if (!where.empty())
            errors = where + "\n" + errors;
        throw Error(VIR_ERR_XML_INVALID_SCHEMA,
                    strprintf(_("Unable to validate doc against %s\n%s"), rngPath.c_str(),
                              errors.c_str()),
                    VIR_FROM_XML);
    }
}

bool isValidAgainstSchema(const std::string &text, const std::string &rngPath)
{
    xmlRelaxNG *rng = compiledSchema(rngPath);
    xml::DocPtr doc;
    try {
        doc = xml::parseDocument(text, "(domain_definition)");
    } catch (const Error &) {
        return false;
    }
    return validates(rng, doc.get());
}

void validateDomainSchema(const std::string &text)
{
    // The parser refuses what we do not support, naming the element, and
    // reports bad values in libvirt's words; the grammar catches the rest.
    parseDomainXML(text, 0);
    validateXMLAgainstSchema(text, domainSchemaDir() + "/domain.rng");
}

} // namespace vd::conf
