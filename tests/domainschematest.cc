// Schema and validation tests.
//
// tests/domainschemadata/NAME.xml is run through the define pipeline
// (validateDomainSchema, then parse + validateDomainDef, then the QEMU
// driver's post-parse and validation).  With NAME.err the
// pipeline must fail with exactly that text (the schema directory shown as
// @SCHEMADIR@); without it the file must pass.
//
// Every XML file in the test data that our schema accepts must also be valid
// for libvirt's installed grammar: our schema is a strict subset of it.
#include <config.h>

#include "conf/domain_schema.h"
#include "conf/domain_validate.h"
#include "conf/domain_xml.h"
#include "qemu/qemu_validate.h"
#include "testutils.h"
#include "util/virerror.h"

#include <unistd.h>

#include <filesystem>

using namespace vd::conf;

namespace {

std::string schemaDataDir() { return vd::test::srcDir() + "/domainschemadata"; }

std::string libvirtSchema() { return std::string(LIBVIRT_SCHEMADIR) + "/domain.rng"; }

std::string replaceAll(std::string s, const std::string &from, const std::string &to)
{
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
        s.replace(pos, from.size(), to);
    return s;
}

void runPipeline(const std::string &xml)
{
    validateDomainSchema(xml);
    auto def = parseDomainXML(xml, PARSE_INACTIVE);
    validateDomainDef(*def);
    vd::qemu::postParseDomainForQemu(*def);
    vd::qemu::validateDomainForQemu(*def);
}

void runSchemaCase(const std::string &input)
{
    std::string base = input.substr(0, input.size() - 4);
    std::string xml = vd::test::readText(input);
    std::string errFile = base + ".err";
    bool expectFailure = std::filesystem::exists(errFile);
    std::string actual;
    try {
        runPipeline(xml);
    } catch (const vd::Error &e) {
        actual = replaceAll(e.what(), domainSchemaDir(), "@SCHEMADIR@") + "\n";
    }
    if (!expectFailure) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(input + " should be valid", std::string(), actual);
        return;
    }
    CPPUNIT_ASSERT_MESSAGE(input + " should be rejected", !actual.empty());
    vd::test::checkGolden(errFile, actual);
}

// All XML test files: inputs and outputs of both data directories.
std::vector<std::string> allXmlFiles()
{
    std::vector<std::string> out;
    for (const char *dir : {"/domainxml2xmldata", "/domainschemadata"})
        for (auto &f : vd::test::listFiles(vd::test::srcDir() + dir, ".xml"))
            out.push_back(f);
    return out;
}

void checkSubsetOfLibvirt(const std::string &file)
{
    if (access(libvirtSchema().c_str(), R_OK) != 0)
        vd::test::skip("libvirt's schema " + libvirtSchema() + " is not installed");
    std::string xml = vd::test::readText(file);
    if (!isValidAgainstSchema(xml, domainSchemaDir() + "/domain.rng")) {
        // Only an error case (NAME.err, pinned by runSchemaCase) may be
        // outside our grammar; a valid input or an output must be inside.
        CPPUNIT_ASSERT_MESSAGE(file + " is not valid for our schema",
                               std::filesystem::exists(file.substr(0, file.size() - 4) + ".err"));
        return;
    }
    try {
        validateXMLAgainstSchema(xml, libvirtSchema());
    } catch (const vd::Error &e) {
        CPPUNIT_FAIL(file + " is valid for our schema but not for libvirt's: " + e.what());
    }
}

vd::test::DataSuite schemaSuite("domainschema", [](const vd::test::AddTest &add) {
    for (const auto &f : vd::test::listFiles(schemaDataDir(), ".xml")) {
        std::string name = std::filesystem::path(f).stem().string();
        add(name, [f] { runSchemaCase(f); });
    }
});

// The shipped examples must define cleanly and be valid for libvirt too.
vd::test::DataSuite examplesSuite("domainexamples", [](const vd::test::AddTest &add) {
    std::string dir = vd::test::srcDir() + "/../examples";
    for (const auto &f : vd::test::listFiles(dir, ".xml")) {
        std::string name = std::filesystem::path(f).stem().string();
        add(name, [f] {
            runPipeline(vd::test::readText(f));
            checkSubsetOfLibvirt(f);
        });
    }
});

vd::test::DataSuite subsetSuite("domainschemasubset", [](const vd::test::AddTest &add) {
    for (const auto &f : allXmlFiles()) {
        std::string name = std::filesystem::path(f).parent_path().filename().string() + "/" +
                           std::filesystem::path(f).stem().string();
        add(name, [f] { checkSubsetOfLibvirt(f); });
    }
});

} // namespace
