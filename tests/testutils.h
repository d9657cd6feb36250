// Shared helpers for the CppUnit suites: skipping, data-driven registration,
// golden-file comparison and locations of test data.
#pragma once

#include <cppunit/TestCase.h>
#include <cppunit/TestSuite.h>
#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vd::test {

// Thrown to mark a test as skipped (e.g. not root, no QEMU); the runner
// counts it separately instead of as a failure.
class Skip : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
[[noreturn]] inline void skip(const std::string &why) { throw Skip(why); }

// $(abs_top_srcdir)/tests and $(abs_top_builddir), from the environment the
// Makefile sets; fall back to paths relative to the current directory.
std::string srcDir();
std::string buildDir();

// Sorted list of files in `dir` whose names end with `suffix`.
std::vector<std::string> listFiles(const std::string &dir, const std::string &suffix);
std::string readText(const std::string &path);

// Compare `actual` with the golden file; with VIR_TEST_REGENERATE_OUTPUT=1 in
// the environment the golden file is (re)written instead, like libvirt's tests.
void checkGolden(const std::string &goldenPath, const std::string &actual);

// A test case whose body is a std::function, for data-driven suites.
class FunctionTest : public CppUnit::TestCase {
public:
    FunctionTest(const std::string &name, std::function<void()> body)
        : CppUnit::TestCase(name), body_(std::move(body)) {}
    void runTest() override { body_(); }

private:
    std::function<void()> body_;
};

// Register a suite whose tests are generated at start-up, one per data file:
//   static vd::test::DataSuite reg("domainxml2xml", [](auto &add) {
//       for (auto &f : listFiles(...)) add(f, [f] { ... });
//   });
using AddTest = std::function<void(const std::string &, std::function<void()>)>;
class DataSuite {
public:
    DataSuite(const std::string &suiteName, std::function<void(const AddTest &)> populate);
};

// True when running as root (kernel-facing suites need it) - and not in
// `make check-unit` mode, where tests needing root skip themselves.
bool isRoot();

// `make check-unit` (vdtest --unit, VD_TEST_UNIT=1): only tests that need
// neither root nor QEMU run.
bool unitOnly();

} // namespace vd::test
