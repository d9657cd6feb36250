## conf suites (tests/*test.cc for conf) are added here.
tests_vdtest_SOURCES += \
	tests/domainxml2xmltest.cc \
	tests/domainschematest.cc \
	tests/domainconftest.cc \
	tests/domainmutationtest.cc
VD_TEST_LIBS += src/conf/libvd_conf.a
EXTRA_DIST += tests/domainxml2xmldata tests/domainschemadata
