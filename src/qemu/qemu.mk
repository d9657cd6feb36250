## src/qemu: capabilities, command line, process and monitor
noinst_LIBRARIES += src/qemu/libvd_qemu.a
src_qemu_libvd_qemu_a_SOURCES = \
	src/qemu/qemu_capabilities.h src/qemu/qemu_capabilities.cc \
	src/qemu/qemu_alias.h src/qemu/qemu_alias.cc \
	src/qemu/qemu_domain_address.h src/qemu/qemu_domain_address.cc \
	src/qemu/qemu_command.h src/qemu/qemu_command.cc \
	src/qemu/qemu_intent.h src/qemu/qemu_intent.cc \
	src/qemu/qemu_process.h src/qemu/qemu_process.cc \
	src/qemu/qemu_domain_lock.h src/qemu/qemu_domain_lock.cc \
	src/qemu/qemu_driver.h src/qemu/qemu_driver.cc \
	src/qemu/qemu_validate.h src/qemu/qemu_validate.cc \
	src/qemu/qemu_host.h src/qemu/qemu_host.cc
## QMP monitor and per-domain supervision (process helper).
src_qemu_libvd_qemu_a_SOURCES += \
	src/qemu/qemu_monitor.h src/qemu/qemu_monitor.cc \
	src/qemu/qemu_supervisor.h src/qemu/qemu_supervisor.cc
## Life-cycle events from the state directories (for the remote server).
src_qemu_libvd_qemu_a_SOURCES += \
	src/qemu/qemu_domain_event.h src/qemu/qemu_domain_event.cc
