## qemu suites (tests/*test.cc for qemu) are added here.
tests_vdtest_SOURCES += tests/qemumonitortest.cc
tests_vdtest_SOURCES += tests/e2eguesttest.cc
EXTRA_DIST += tests/guest/build-guest.sh tests/guest/e2e-smoke.sh \
	tests/guest/init tests/guest/udptool.c \
	tests/guest/README.md
tests_vdtest_SOURCES += tests/qemusupervisortest.cc
check_PROGRAMS += tests/vdsupervisorhelper
tests_vdsupervisorhelper_SOURCES = tests/vdsupervisorhelper.cc
tests_vdsupervisorhelper_LDADD = src/qemu/libvd_qemu.a src/util/libvd_util.a $(VD_LIBS)
tests_vdtest_SOURCES += tests/e2ereconnecttest.cc
tests_vdtest_SOURCES += tests/qemuxml2argvtest.cc tests/qemucapabilitiestest.cc
VD_TEST_LIBS += src/qemu/libvd_qemu.a src/conf/libvd_conf.a
EXTRA_DIST += tests/qemuxml2argvdata tests/qemucapabilitiesdata
tests_vdtest_SOURCES += tests/qemudrivertest.cc
