## tests: one CppUnit runner, tests/vdtest, holding every suite.  Each area
## adds its suites in its own fragment below.  `make check` runs the runner,
## whose last line is "N passed, N failed, N skipped".
check_PROGRAMS += tests/vdtest
tests_vdtest_SOURCES = tests/testmain.cc tests/testutils.h tests/testutils.cc \
	tests/testcommand.h tests/testcommand.cc
tests_vdtest_CXXFLAGS = $(AM_CXXFLAGS) $(CPPUNIT_CFLAGS)
tests_vdtest_LDADD = $(VD_TEST_LIBS) src/util/libvd_util.a $(CPPUNIT_LIBS) $(VD_LIBS)
VD_TEST_LIBS = tests/libvd_testsupport.a

# Test support shared with bench/ and the demo: private network namespaces.
# Not part of the product (the library never creates namespaces).
noinst_LIBRARIES += tests/libvd_testsupport.a
tests_libvd_testsupport_a_SOURCES = tests/virnetns.h tests/virnetns.cc

include tests/util-tests.mk
include tests/conf-tests.mk
include tests/qemu-tests.mk
include tests/tools-tests.mk
include tests/rpc-tests.mk

TESTS_ENVIRONMENT_VD = \
	VD_TEST_SRCDIR="$(abs_top_srcdir)/tests" \
	VD_TEST_BUILDDIR="$(abs_top_builddir)" \
	VD_SCHEMADIR="$(abs_top_srcdir)/docs/schemas"

# The suites run in parallel worker processes, one per suite (VD_TEST_JOBS,
# default: the number of CPUs; VD_TEST_JOBS=1 runs them serially in one
# process).  TESTS_FILTER=name runs the tests whose name contains it; a
# filter that matches nothing fails.
VD_TEST_JOBS = 0
check-local: tests/vdtest $(bin_PROGRAMS) $(noinst_PROGRAMS)
	@$(TESTS_ENVIRONMENT_VD) VD_TEST_JOBS=$(VD_TEST_JOBS) \
		$(top_builddir)/tests/vdtest $(TESTS_FILTER)

# Everything that needs neither root nor QEMU, in seconds.
check-unit: tests/vdtest $(bin_PROGRAMS) $(noinst_PROGRAMS)
	@$(TESTS_ENVIRONMENT_VD) VD_TEST_JOBS=$(VD_TEST_JOBS) \
		$(top_builddir)/tests/vdtest --unit $(TESTS_FILTER)
.PHONY: check-unit
