// Robustness: systematically damaged variants of the xml2xml inputs (an
// element removed or duplicated, an attribute removed or given odd values)
// must either be refused with a vd::Error or parse into something that
// formats idempotently and passes (or cleanly fails) validation; and every
// variant our schema accepts must be valid for libvirt's schema as well.  Nothing
// else may escape: no std::out_of_range, no crash, no partial state.
#include <config.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "conf/domain_schema.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "testutils.h"
#include "util/virerror.h"

using namespace vd::conf;

namespace {

struct DocFree {
    void operator()(xmlDoc *d) const { xmlFreeDoc(d); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

std::string serialize(xmlDoc *doc)
{
    xmlChar *buf = nullptr;
    int len = 0;
    xmlDocDumpMemory(doc, &buf, &len);
    std::string out(reinterpret_cast<char *>(buf), static_cast<size_t>(len));
    xmlFree(buf);
    return out;
}

void collectElements(xmlNode *n, std::vector<xmlNode *> &out)
{
    for (xmlNode *c = n; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        out.push_back(c);
        collectElements(c->children, out);
    }
}

std::string libvirtSchema() { return std::string(LIBVIRT_SCHEMADIR) + "/domain.rng"; }

// Our grammar must stay a subset of libvirt's for damaged documents too.
std::string checkSubset(const std::string &xml)
{
    if (isValidAgainstSchema(xml, domainSchemaDir() + "/domain.rng") &&
        !isValidAgainstSchema(xml, libvirtSchema()))
        return "accepted by our schema, refused by libvirt's";
    return {};
}

// Runs one variant; returns a description of a failure or "".
std::string tryVariant(const std::string &xml)
{
    if (access(libvirtSchema().c_str(), R_OK) == 0) {
        std::string problem = checkSubset(xml);
        if (!problem.empty())
            return problem;
    }
    try {
        for (unsigned flags : {unsigned(PARSE_INACTIVE), unsigned(PARSE_LIVE)}) {
            std::unique_ptr<DomainDef> def;
            try {
                def = parseDomainXML(xml, flags);
            } catch (const vd::Error &) {
                continue;
            }
            unsigned fmt = flags == PARSE_INACTIVE ? unsigned(FORMAT_INACTIVE) : 0u;
            std::string once = formatDomainXML(*def, fmt);
            std::string twice = formatDomainXML(*parseDomainXML(once, flags), fmt);
            if (once != twice)
                return "not idempotent:\n" + once + "\n---\n" + twice;
            if (flags != PARSE_INACTIVE)
                continue;
            try {
                validateDomainDef(*def);
                validateDomainSchema(xml);
            } catch (const vd::Error &) {
            }
        }
    } catch (const vd::Error &e) {
        return std::string("vd::Error from re-parsing formatted output: ") + e.what();
    } catch (const std::exception &e) {
        return std::string("unexpected exception: ") + e.what();
    }
    return {};
}

void mutateFile(const std::string &file)
{
    std::string text = vd::test::readText(file);
    Doc original(xmlReadMemory(text.data(), static_cast<int>(text.size()), "in.xml", nullptr,
                               XML_PARSE_NONET));
    CPPUNIT_ASSERT(original);
    std::vector<xmlNode *> elems;
    collectElements(xmlDocGetRootElement(original.get()), elems);

    unsigned variants = 0;
    auto run = [&](const std::function<void(xmlDoc *, size_t)> &mutate, size_t index,
                   const std::string &what) {
        Doc copy(xmlCopyDoc(original.get(), 1));
        mutate(copy.get(), index);
        ++variants;
        std::string problem = tryVariant(serialize(copy.get()));
        if (!problem.empty())
            CPPUNIT_FAIL(file + ": " + what + ": " + problem);
    };
    auto nth = [](xmlDoc *doc, size_t i) {
        std::vector<xmlNode *> all;
        collectElements(xmlDocGetRootElement(doc), all);
        return all.at(i);
    };

    const char *oddValues[] = {"", "-1", "0", "256", "65536", "4294967296", "x%d", "a b", "0x1f", "yes",
                               "/abs/path", "52:54:00:00:00:00"};
    for (size_t i = 1; i < elems.size(); ++i) {
        std::string name = reinterpret_cast<const char *>(elems[i]->name);
        run([&](xmlDoc *d, size_t k) {
                xmlNode *n = nth(d, k);
                xmlUnlinkNode(n);
                xmlFreeNode(n);
            },
            i, "remove <" + name + ">");
        run([&](xmlDoc *d, size_t k) {
                xmlNode *n = nth(d, k);
                xmlAddNextSibling(n, xmlCopyNode(n, 1));
            },
            i, "duplicate <" + name + ">");
        size_t attrIndex = 0;
        for (xmlAttr *a = elems[i]->properties; a; a = a->next, ++attrIndex) {
            std::string an = reinterpret_cast<const char *>(a->name);
            run([&](xmlDoc *d, size_t k) {
                    xmlNode *n = nth(d, k);
                    xmlUnsetProp(n, BAD_CAST an.c_str());
                },
                i, "remove " + name + "/@" + an);
            for (const char *v : oddValues)
                run([&](xmlDoc *d, size_t k) {
                        xmlSetProp(nth(d, k), BAD_CAST an.c_str(), BAD_CAST v);
                    },
                    i, "set " + name + "/@" + an + "='" + v + "'");
        }
        if (!elems[i]->children || elems[i]->children->type == XML_TEXT_NODE) {
            for (const char *v : oddValues)
                run([&](xmlDoc *d, size_t k) {
                        xmlNodeSetContent(nth(d, k), BAD_CAST v);
                    },
                    i, "set text of <" + name + "> to '" + v + "'");
        }
    }
    CPPUNIT_ASSERT(variants > 0);
}

vd::test::DataSuite mutations("domainxmlmutation", [](const vd::test::AddTest &add) {
    for (const auto &f :
         vd::test::listFiles(vd::test::srcDir() + "/domainxml2xmldata", ".xml")) {
        if (f.ends_with("-out.xml"))
            continue;
        add(std::filesystem::path(f).stem().string(), [f] { mutateFile(f); });
    }
});

} // namespace
