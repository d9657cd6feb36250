## src/util: error reporting, fds and files, bitmap, netlink, netdev, process helpers
noinst_LIBRARIES += src/util/libvd_util.a
src_util_libvd_util_a_SOURCES = \
	src/util/virgettext.h \
	src/util/virerror.h src/util/virerror.cc \
	src/util/virfault.h src/util/virfault.cc \
	src/util/vircommand.h src/util/vircommand.cc \
	src/util/vireventloop.h src/util/vireventloop.cc \
	src/util/virfile.h src/util/virfile.cc \
	src/util/virjson.h src/util/virjson.cc \
	src/util/virmacaddr.h src/util/virmacaddr.cc \
	src/util/virnetdevmacvlanmode.h \
	src/util/virpaths.h src/util/virpaths.cc \
	src/util/virprocess.h src/util/virprocess.cc \
	src/util/virxml.h src/util/virxml.cc \
	src/util/virhostinfo.h src/util/virhostinfo.cc
src_util_libvd_util_a_SOURCES += \
	src/util/virbitmap.h src/util/virbitmap.cc \
	src/util/virnetlink.h src/util/virnetlink.cc \
	src/util/virnetdevnamepool.h src/util/virnetdevnamepool.cc \
	src/util/virnetdevmacvtap.h src/util/virnetdevmacvtap.cc \
	src/util/virthread.h src/util/virthread.cc
