## src/remote: libvirt's REMOTE_PROGRAM dispatched onto the driver API
noinst_LIBRARIES += src/remote/libvd_remote.a
src_remote_libvd_remote_a_SOURCES = \
	src/remote/remote_protocol.h src/remote/remote_protocol.cc \
	src/remote/remote_daemon_dispatch.h src/remote/remote_daemon_dispatch.cc \
	src/remote/remote_dispatch_domain.cc \
	src/remote/remote_daemon.h src/remote/remote_daemon.cc
