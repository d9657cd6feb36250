## src/remote: libvirt's REMOTE_PROGRAM dispatched onto the driver API
noinst_LIBRARIES += src/remote/libvd_remote.a
src_remote_libvd_remote_a_SOURCES = \
	src/remote/remote_protocol.h src/remote/remote_protocol.cc \
	src/remote/remote_daemon_dispatch.h src/remote/remote_daemon_dispatch.cc \
	src/remote/remote_dispatch_domain.cc \
	src/remote/remote_dispatch_event.cc \
	src/remote/remote_daemon.h src/remote/remote_daemon.cc

## systemd units: two sockets (read-write, read-only) activating the service.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = src/remote/virt-direct.service src/remote/virt-direct.socket \
	src/remote/virt-direct-ro.socket
EXTRA_DIST += src/remote/virt-direct.service.in src/remote/virt-direct.socket \
	src/remote/virt-direct-ro.socket
CLEANFILES += src/remote/virt-direct.service
src/remote/virt-direct.service: $(srcdir)/src/remote/virt-direct.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) src/remote && \
	sed -e 's|[@]bindir[@]|$(bindir)|g' $(srcdir)/src/remote/virt-direct.service.in > $@
