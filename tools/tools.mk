## tools: the virt-direct command-line tool
bin_PROGRAMS += tools/virt-direct
tools_virt_direct_SOURCES = \
	tools/virt-direct.cc \
	tools/vdcommands.h \
	tools/vdtable.h tools/vdtable.cc \
	tools/cmd_config.cc \
	tools/cmd_native.cc \
	tools/cmd_domain.cc \
	tools/cmd_serve.cc
tools_virt_direct_LDADD = src/remote/libvd_remote.a src/rpc/libvd_rpc.a src/qemu/libvd_qemu.a src/conf/libvd_conf.a src/util/libvd_util.a $(VD_LIBS)
