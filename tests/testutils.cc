#include <config.h>

#include "testutils.h"

#include <cppunit/extensions/TestFactoryRegistry.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace vd::test {

std::string srcDir()
{
    const char *s = std::getenv("VD_TEST_SRCDIR");
    return s ? s : "tests";
}

std::string buildDir()
{
    const char *s = std::getenv("VD_TEST_BUILDDIR");
    return s ? s : ".";
}

std::vector<std::string> listFiles(const std::string &dir, const std::string &suffix)
{
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        if (name.size() >= suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            out.push_back(entry.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string readText(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void checkGolden(const std::string &goldenPath, const std::string &actual)
{
    const char *regen = std::getenv("VIR_TEST_REGENERATE_OUTPUT");
    if (regen && std::string(regen) == "1") {
        std::ofstream out(goldenPath, std::ios::binary | std::ios::trunc);
        out << actual;
        return;
    }
    std::string expected;
    try {
        expected = readText(goldenPath);
    } catch (const std::exception &) {
        CPPUNIT_FAIL("missing golden file " + goldenPath +
                     " (run with VIR_TEST_REGENERATE_OUTPUT=1 to create it); actual:\n" + actual);
    }
    if (expected != actual) {
        // Show the first differing line to make failures readable.
        std::istringstream e(expected), a(actual);
        std::string le, la;
        int line = 1;
        while (true) {
            bool ge = static_cast<bool>(std::getline(e, le));
            bool ga = static_cast<bool>(std::getline(a, la));
            if (!ge && !ga)
                break;
            if (!ge || !ga || le != la)
                break;
            ++line;
        }
        CPPUNIT_FAIL(goldenPath + ": differs at line " + std::to_string(line) +
                     "\n  expected: " + le + "\n  actual:   " + la +
                     "\n--- full actual output ---\n" + actual);
    }
}

namespace {
class DataSuiteFactory : public CppUnit::TestFactory {
public:
    DataSuiteFactory(std::string name, std::function<void(const AddTest &)> populate)
        : name_(std::move(name)), populate_(std::move(populate)) {}

    CppUnit::Test *makeTest() override
    {
        auto suite = std::make_unique<CppUnit::TestSuite>(name_);
        populate_([&](const std::string &testName, std::function<void()> body) {
            // CppUnit's TestSuite takes ownership of the raw pointer.
            suite->addTest(std::make_unique<FunctionTest>(name_ + "::" + testName,
                                                          std::move(body)).release());
        });
        return suite.release();
    }

private:
    std::string name_;
    std::function<void(const AddTest &)> populate_;
};
} // namespace

DataSuite::DataSuite(const std::string &suiteName,
                     std::function<void(const AddTest &)> populate)
{
    // Registered factories live for the whole program, as CppUnit expects.
    static std::vector<std::unique_ptr<DataSuiteFactory>> factories;
    factories.push_back(std::make_unique<DataSuiteFactory>(suiteName, std::move(populate)));
    CppUnit::TestFactoryRegistry::getRegistry().registerFactory(factories.back().get());
}

bool unitOnly()
{
    const char *u = std::getenv("VD_TEST_UNIT");
    return u && *u && std::string(u) != "0";
}

bool isRoot() { return ::geteuid() == 0 && !unitOnly(); }

} // namespace vd::test
