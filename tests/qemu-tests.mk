## qemu suites (tests/*test.cc for qemu) are added here.
tests_vdtest_SOURCES += tests/qemumonitortest.cc
VD_TEST_LIBS += src/qemu/libvd_qemu.a
