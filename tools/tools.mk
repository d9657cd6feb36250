## tools: the virt-direct command-line tool
bin_PROGRAMS += tools/virt-direct
tools_virt_direct_SOURCES = \
	tools/virt-direct.cc \
	tools/vdcommands.h \
	tools/vdtable.h tools/vdtable.cc \
	tools/cmd_config.cc
tools_virt_direct_LDADD = src/conf/libvd_conf.a src/util/libvd_util.a $(VD_LIBS)
