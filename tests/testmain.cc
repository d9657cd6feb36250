// Runs every registered CppUnit suite (or those whose name contains one of
// the arguments) and ends with the summary line CI reads:
//   N passed, N failed, N skipped
#include <config.h>

#include <cppunit/Protector.h>
#include <cppunit/TestFailure.h>
#include <cppunit/TestListener.h>
#include <cppunit/TestResult.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/SourceLine.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "testutils.h"
#include "util/virgettext.h"

namespace {

struct Tally {
    unsigned passed = 0, failed = 0, skipped = 0;
    bool currentSkipped = false;
    bool currentFailed = false;
    std::string skipReason;
};

// Turns vd::test::Skip into a "skipped" mark rather than an error.
class SkipProtector : public CppUnit::Protector {
public:
    explicit SkipProtector(Tally &t) : tally_(t) {}
    bool protect(const CppUnit::Functor &functor, const CppUnit::ProtectorContext &) override
    {
        try {
            return functor();
        } catch (const vd::test::Skip &s) {
            tally_.currentSkipped = true;
            tally_.skipReason = s.what();
            return false;
        }
    }

private:
    Tally &tally_;
};

class Listener : public CppUnit::TestListener {
public:
    explicit Listener(Tally &t, bool verbose) : tally_(t), verbose_(verbose) {}

    void startTest(CppUnit::Test *) override
    {
        tally_.currentSkipped = false;
        tally_.currentFailed = false;
        start_ = std::chrono::steady_clock::now();
    }
    void addFailure(const CppUnit::TestFailure &failure) override
    {
        if (tally_.currentSkipped)
            return;
        tally_.currentFailed = true;
        const auto *e = failure.thrownException();
        std::cout << "FAIL: " << failure.failedTestName() << "\n";
        if (e) {
            if (failure.sourceLine().isValid())
                std::cout << "  at " << failure.sourceLine().fileName() << ":"
                          << failure.sourceLine().lineNumber() << "\n";
            std::cout << "  " << e->what() << "\n";
        }
    }
    void endTest(CppUnit::Test *test) override
    {
        double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start_).count();
        if (tally_.currentSkipped) {
            ++tally_.skipped;
            std::cout << "SKIP: " << test->getName() << " (" << tally_.skipReason << ")\n";
        } else if (tally_.currentFailed) {
            ++tally_.failed;
        } else {
            ++tally_.passed;
            if (verbose_)
                std::cout << "PASS: " << test->getName() << " (" << ms << " ms)\n";
        }
        std::cout.flush();
    }

private:
    Tally &tally_;
    bool verbose_;
    std::chrono::steady_clock::time_point start_;
};

// Collect leaf tests whose full name matches one of the filters.
void collect(CppUnit::Test *t, const std::vector<std::string> &filters,
             std::vector<CppUnit::Test *> &out)
{
    if (t->getChildTestCount() == 0) {
        if (filters.empty()) {
            out.push_back(t);
            return;
        }
        for (const auto &f : filters)
            if (t->getName().find(f) != std::string::npos) {
                out.push_back(t);
                return;
            }
        return;
    }
    for (int i = 0; i < t->getChildTestCount(); ++i)
        collect(t->getChildTestAt(i), filters, out);
}

} // namespace

int main(int argc, char **argv)
{
    vd::initGettext();
    std::vector<std::string> filters;
    bool verbose = std::getenv("VIR_TEST_VERBOSE") != nullptr;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-v" || a == "--verbose")
            verbose = true;
        else
            filters.push_back(a);
    }

    std::unique_ptr<CppUnit::Test> all(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
    std::vector<CppUnit::Test *> tests;
    collect(all.get(), filters, tests);

    Tally tally;
    CppUnit::TestResult result;
    Listener listener(tally, verbose);
    result.addListener(&listener);
    // TestResult takes ownership of its protectors.
    result.pushProtector(std::make_unique<SkipProtector>(tally).release());
    for (auto *t : tests)
        t->run(&result);

    std::cout << tally.passed << " passed, " << tally.failed << " failed, "
              << tally.skipped << " skipped" << std::endl;
    return tally.failed == 0 ? 0 : 1;
}
