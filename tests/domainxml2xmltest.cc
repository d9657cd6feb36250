// Data-driven round-trip tests of the domain XML parser and formatter.
//
// For every tests/domainxml2xmldata/NAME.xml:
//   NAME-out.xml       format(parse(x, PARSE_INACTIVE), FORMAT_INACTIVE)
//   NAME-live-out.xml  format(parse(x, PARSE_LIVE), 0), only when it differs
//                      from the inactive output (auto names, aliases, ids)
// and both outputs are fixed points: format(parse(out)) == out.
#include <config.h>

#include "conf/domain_schema.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "qemu/qemu_validate.h"
#include "testutils.h"
#include "util/virerror.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

using namespace vd::conf;

namespace {

std::string dataDir() { return vd::test::srcDir() + "/domainxml2xmldata"; }

bool regenerating()
{
    const char *r = std::getenv("VIR_TEST_REGENERATE_OUTPUT");
    return r && std::string(r) == "1";
}

void checkFixedPoint(const std::string &out, unsigned parseFlags, unsigned formatFlags,
                     const std::string &what)
{
    auto again = parseDomainXML(out, parseFlags);
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": format(parse(output)) is not a fixed point", out,
                                 formatDomainXML(*again, formatFlags));
}

void runCase(const std::string &input)
{
    std::string base = input.substr(0, input.size() - 4);
    std::string xml = vd::test::readText(input);

    // Through the QEMU driver's post-parse, like libvirt's qemuxml2xml.
    auto inactive = parseDomainXML(xml, PARSE_INACTIVE);
    validateDomainDef(*inactive);
    vd::qemu::postParseDomainForQemu(*inactive);
    std::string inactiveOut = formatDomainXML(*inactive, FORMAT_INACTIVE);
    vd::test::checkGolden(base + "-out.xml", inactiveOut);
    checkFixedPoint(inactiveOut, PARSE_INACTIVE, FORMAT_INACTIVE, "inactive");

    auto live = parseDomainXML(xml, PARSE_LIVE);
    validateDomainDef(*live);
    vd::qemu::postParseDomainForQemu(*live);
    std::string liveOut = formatDomainXML(*live, 0);
    std::string liveGolden = base + "-live-out.xml";
    if (liveOut != inactiveOut) {
        vd::test::checkGolden(liveGolden, liveOut);
    } else if (regenerating()) {
        std::filesystem::remove(liveGolden);
    } else {
        CPPUNIT_ASSERT_MESSAGE(liveGolden + " exists but the live output equals the inactive one",
                               !std::filesystem::exists(liveGolden));
    }
    checkFixedPoint(liveOut, PARSE_LIVE, 0, "live");
    // The live output, read back as a definition, gives the inactive output.
    auto reread = parseDomainXML(liveOut, PARSE_INACTIVE);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("inactive view of the live output", inactiveOut,
                                 formatDomainXML(*reread, FORMAT_INACTIVE));

    // Both outputs must satisfy our own grammar.
    validateDomainSchema(inactiveOut);
    validateDomainSchema(liveOut);
}

vd::test::DataSuite xml2xml("domainxml2xml", [](const vd::test::AddTest &add) {
    for (const auto &f : vd::test::listFiles(dataDir(), ".xml")) {
        if (f.ends_with("-out.xml"))
            continue;
        std::string name = std::filesystem::path(f).stem().string();
        add(name, [f] { runCase(f); });
    }
});

// format(parse(format(parse(x)))) == format(parse(x)) for every XML file of
// the test data and the examples, in both modes.  Only an error case of the
// schema tests (NAME.xml with NAME.err) may fail to parse - its error text is
// pinned there; any other file that does not parse fails here.
void checkIdempotent(const std::string &file)
{
    std::string xml = vd::test::readText(file);
    const bool errorCase =
        std::filesystem::exists(file.substr(0, file.size() - 4) + ".err");
    for (auto [parseFlags, formatFlags] : {std::pair<unsigned, unsigned>{PARSE_INACTIVE, FORMAT_INACTIVE},
                                           std::pair<unsigned, unsigned>{PARSE_LIVE, 0u}}) {
        std::unique_ptr<DomainDef> def;
        try {
            def = parseDomainXML(xml, parseFlags);
        } catch (const vd::Error &e) {
            if (errorCase)
                return;
            CPPUNIT_FAIL(file + " does not parse: " + e.what());
        }
        std::string once = formatDomainXML(*def, formatFlags);
        std::string twice = formatDomainXML(*parseDomainXML(once, parseFlags), formatFlags);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(file, once, twice);
    }
}

vd::test::DataSuite idempotent("domainxmlidempotent", [](const vd::test::AddTest &add) {
    for (const char *dir : {"/domainxml2xmldata", "/domainschemadata", "/../examples"}) {
        for (const auto &f : vd::test::listFiles(vd::test::srcDir() + dir, ".xml")) {
            std::filesystem::path p(f);
            add(p.parent_path().filename().string() + "/" + p.stem().string(),
                [f] { checkIdempotent(f); });
        }
    }
});

} // namespace
