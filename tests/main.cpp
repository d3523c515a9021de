// SPDX-License-Identifier: Apache-2.0
// doctest main for every tier. CTest runs one test case per process (doctest_discover_tests
// passes --test-case=NAME); a filter that matches nothing must fail, not pass with zero
// assertions, so the number of test cases run is counted.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <string_view>

namespace {

int g_test_cases_run = 0;

struct CountingListener : doctest::IReporter {
    explicit CountingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { ++g_test_cases_run; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("count", 1, CountingListener);

int main(int argc, char** argv) {
#ifdef WARD_ONE_CASE_PER_PROCESS
    // The FIPS provider, once loaded, is the default for the whole process: each case of this
    // tier must run alone, as CTest runs it.
    bool filtered = false, listing = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        filtered = filtered || a.rfind("--test-case=", 0) == 0 || a.rfind("-tc=", 0) == 0;
        listing = listing || a.rfind("--list", 0) == 0 || a.rfind("-ltc", 0) == 0 || a == "--help" || a == "-h";
    }
    if (!filtered && !listing) {
        std::fprintf(stderr, "each test case of this executable needs a process of its own (the FIPS provider is "
                             "process-wide): run it through ctest, or pick one case with --test-case=NAME\n");
        return 2;
    }
#endif
    // A peer that closes while a test writes must fail the test's check, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit()) return result;
    if (result == 0 && g_test_cases_run == 0) {
        std::fprintf(stderr, "no test case matched the filter: failing rather than passing nothing\n");
        return 3;
    }
    return result;
}
