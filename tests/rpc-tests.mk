## rpc and remote suites: the XDR codec and framing, and the remote-protocol
## server driven by the real virsh and python3-libvirt.
tests_vdtest_SOURCES += tests/virxdrtest.cc
VD_TEST_LIBS += src/remote/libvd_remote.a src/rpc/libvd_rpc.a src/qemu/libvd_qemu.a \
	src/conf/libvd_conf.a
tests_vdtest_SOURCES += tests/testremote.h tests/testremote.cc tests/remoteservertest.cc
tests_vdtest_SOURCES += tests/remotevirshtest.cc
EXTRA_DIST += tests/remotedata
