// Small libxml2 helpers shared by the domain parser and the schema checker:
// RAII ownership of documents, strict attribute/child access with
// libvirt-worded errors, and an indenting writer for libvirt-style output.
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vd::xml {

struct DocFree {
    void operator()(xmlDoc *doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Parses `text` without network access or entity expansion.  Malformed XML
// throws vd::Error(VIR_ERR_XML_DETAIL) carrying libxml's own message and
// line, the way libvirt reports "(domain_definition):3: ...".
DocPtr parseDocument(const std::string &text, const char *what);

std::string_view name(const xmlNode *node);

// Element children of `node`, skipping text, comments and PIs.
std::vector<xmlNode *> children(const xmlNode *node);

std::optional<std::string> prop(const xmlNode *node, const char *attr);
// Throws "Missing required attribute 'attr' in element 'x'".
std::string requiredProp(const xmlNode *node, const char *attr);
// The element's text content, whitespace-trimmed when `trim`.
std::string content(const xmlNode *node, bool trim = true);

// Refuse attributes / child elements outside the supported subset with an
// "unsupported configuration" error naming them; never drop them silently.
void checkAttributes(const xmlNode *node, std::initializer_list<std::string_view> allowed);
void checkChildren(const xmlNode *node, std::initializer_list<std::string_view> allowed);
// The single child called `child`, or nullptr; a second one is an error.
xmlNode *uniqueChild(const xmlNode *node, const char *child);

// Number parsing with libvirt's error texts.
unsigned parseUInt(const std::string &value, const char *attr, const char *element,
                   bool allowHex = false);
unsigned long long parseULL(const std::string &value, const char *attr, const char *element);
[[noreturn]] void invalidValue(const char *attr, const char *element, const std::string &value);

// Escape for attribute values and text the way libvirt's virBufferEscapeString does.
std::string escape(std::string_view raw);

// Builds libvirt-style XML: two-space indentation, single-quoted attributes,
// empty elements as <x/>.
class Writer {
public:
    // Starts "<name"; follow with attr() calls and then open() or close().
    Writer &start(std::string_view name);
    Writer &attr(std::string_view name, std::string_view value);
    // Ends the start tag with ">" and a newline: children follow.
    Writer &open();
    // Ends the start tag as "/>".
    Writer &close();
    // Ends the start tag, writes escaped text and the end tag on one line.
    Writer &text(std::string_view text);
    // Writes the end tag of the innermost opened element.
    Writer &end();
    // Convenience: <name>text</name>.
    Writer &element(std::string_view name, std::string_view text);

    std::string str() const { return out_; }

private:
    void indent();
    std::string out_;
    std::vector<std::string> stack_;
    std::string pending_;
};

} // namespace vd::xml
