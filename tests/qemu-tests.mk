## qemu suites (tests/*test.cc for qemu) are added here.
tests_vdtest_SOURCES += tests/qemuxml2argvtest.cc tests/qemucapabilitiestest.cc
VD_TEST_LIBS += src/qemu/libvd_qemu.a src/conf/libvd_conf.a
EXTRA_DIST += tests/qemuxml2argvdata tests/qemucapabilitiesdata
