## util suites (tests/*test.cc for util) are added here.
tests_vdtest_SOURCES += \
	tests/testnetns.h tests/testnetns.cc \
	tests/virbitmaptest.cc \
	tests/virnetnstest.cc \
	tests/virnetdevnamepooltest.cc \
	tests/virnetdevmacvtaptest.cc
tests_vdtest_SOURCES += tests/virjsontest.cc
tests_vdtest_SOURCES += tests/vircommandtest.cc
tests_vdtest_SOURCES += tests/vireventlooptest.cc
