#include <config.h>

#include "util/virxml.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <mutex>

#include "util/virerror.h"

namespace vd::xml {

namespace {
struct ParserCtxtFree {
    void operator()(xmlParserCtxt *ctxt) const { xmlFreeParserCtxt(ctxt); }
};

std::string trimmed(std::string s)
{
    const char *ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos)
        return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}
} // namespace

DocPtr parseDocument(const std::string &text, const char *what)
{
    // libxml2 wants its global state set up once before threads use it.
    static std::once_flag initialised;
    std::call_once(initialised, xmlInitParser);
    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
    if (!ctxt)
        raiseInternal(_("failed to allocate XML parser context"));
    int options = XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt.get(), text.data(), static_cast<int>(text.size()),
                                    what, nullptr, options);
    DocPtr owned(doc);
    if (!owned || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt.get());
        std::string msg;
        if (err && err->message) {
            msg = trimmed(err->message);
            msg = strprintf("%s:%d: %s", what, err->line, msg.c_str());
        } else {
            msg = strprintf(_("failed to parse XML document '%s'"), what);
        }
        throw Error(VIR_ERR_XML_DETAIL, msg, VIR_FROM_XML);
    }
    if (!xmlDocGetRootElement(owned.get()))
        throw Error(VIR_ERR_XML_DETAIL, strprintf(_("missing root element in '%s'"), what),
                    VIR_FROM_XML);
    return owned;
}

std::string_view name(const xmlNode *node)
{
    return reinterpret_cast<const char *>(node->name);
}

std::vector<xmlNode *> children(const xmlNode *node)
{
    std::vector<xmlNode *> out;
    for (xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            out.push_back(c);
    return out;
}

std::optional<std::string> prop(const xmlNode *node, const char *attr)
{
    xmlChar *v = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar *>(attr));
    if (!v)
        return std::nullopt;
    std::string s(reinterpret_cast<const char *>(v));
    xmlFree(v);
    return s;
}

std::string requiredProp(const xmlNode *node, const char *attr)
{
    auto v = prop(node, attr);
    if (!v)
        raiseXmlError(strprintf(_("Missing required attribute '%s' in element '%s'"), attr,
                                std::string(name(node)).c_str()));
    return *v;
}

std::string content(const xmlNode *node, bool trim)
{
    xmlChar *v = xmlNodeGetContent(node);
    std::string s = v ? reinterpret_cast<const char *>(v) : "";
    xmlFree(v);
    return trim ? trimmed(s) : s;
}

void checkAttributes(const xmlNode *node, std::initializer_list<std::string_view> allowed)
{
    for (xmlAttr *a = node->properties; a; a = a->next) {
        std::string_view an = reinterpret_cast<const char *>(a->name);
        bool ok = false;
        for (auto x : allowed)
            ok = ok || x == an;
        if (!ok || a->ns)
            raiseUnsupported(strprintf(_("attribute '%s' of element '%s' is not supported"),
                                       std::string(an).c_str(),
                                       std::string(name(node)).c_str()));
    }
}

void checkChildren(const xmlNode *node, std::initializer_list<std::string_view> allowed)
{
    for (xmlNode *c : children(node)) {
        bool ok = false;
        for (auto x : allowed)
            ok = ok || x == name(c);
        if (!ok || (c->ns && c->ns->href)) {
            // Name foreign-namespace elements with their prefix ("qemu:arg").
            std::string full(name(c));
            if (c->ns && c->ns->prefix)
                full = reinterpret_cast<const char *>(c->ns->prefix) + (":" + full);
            raiseUnsupported(strprintf(_("element '%s' in '%s' is not supported"),
                                       full.c_str(), std::string(name(node)).c_str()));
        }
    }
}

xmlNode *uniqueChild(const xmlNode *node, const char *child)
{
    xmlNode *found = nullptr;
    for (xmlNode *c : children(node)) {
        if (name(c) != child)
            continue;
        if (found)
            raiseXmlError(strprintf(_("element '%s' may appear only once in '%s'"), child,
                                    std::string(name(node)).c_str()));
        found = c;
    }
    return found;
}

void invalidValue(const char *attr, const char *element, const std::string &value)
{
    raiseXmlError(strprintf(_("Invalid value for attribute '%s' in element '%s': '%s'."), attr,
                            element, value.c_str()));
}

unsigned long long parseULL(const std::string &value, const char *attr, const char *element)
{
    const char *s = value.c_str();
    char *end = nullptr;
    errno = 0;
    while (*s == ' ')
        ++s;
    if (*s == '-' || *s == '\0')
        raiseXmlError(strprintf(_("Invalid value for attribute '%s' in element '%s': '%s'. "
                                  "Expected non-negative integer value"),
                                attr, element, value.c_str()));
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0')
        raiseXmlError(strprintf(_("Invalid value for attribute '%s' in element '%s': '%s'. "
                                  "Expected non-negative integer value"),
                                attr, element, value.c_str()));
    return v;
}

unsigned parseUInt(const std::string &value, const char *attr, const char *element,
                   bool allowHex)
{
    const char *s = value.c_str();
    char *end = nullptr;
    errno = 0;
    unsigned long long v = 0;
    bool bad = *s == '-' || *s == '\0' || *s == ' ' || *s == '+';
    if (!bad) {
        v = std::strtoull(s, &end, allowHex ? 0 : 10);
        bad = errno || end == s || *end != '\0' || v > UINT_MAX;
    }
    if (bad)
        raiseXmlError(strprintf(_("Invalid value for attribute '%s' in element '%s': '%s'. "
                                  "Expected non-negative integer value"),
                                attr, element, value.c_str()));
    return static_cast<unsigned>(v);
}

std::string escape(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (char c : raw) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

void Writer::indent() { out_.append(2 * stack_.size(), ' '); }

Writer &Writer::start(std::string_view n)
{
    indent();
    out_ += '<';
    out_ += n;
    pending_ = n;
    return *this;
}

Writer &Writer::attr(std::string_view n, std::string_view value)
{
    out_ += ' ';
    out_ += n;
    out_ += "='";
    out_ += escape(value);
    out_ += '\'';
    return *this;
}

Writer &Writer::open()
{
    out_ += ">\n";
    stack_.push_back(pending_);
    return *this;
}

Writer &Writer::close()
{
    out_ += "/>\n";
    return *this;
}

Writer &Writer::text(std::string_view t)
{
    out_ += '>';
    out_ += escape(t);
    out_ += "</";
    out_ += pending_;
    out_ += ">\n";
    return *this;
}

Writer &Writer::end()
{
    std::string n = stack_.back();
    stack_.pop_back();
    indent();
    out_ += "</" + n + ">\n";
    return *this;
}

Writer &Writer::element(std::string_view n, std::string_view t)
{
    return start(n).text(t);
}

} // namespace vd::xml
