## src/rpc: XDR codec, message framing, the RPC server and daemon plumbing
noinst_LIBRARIES += src/rpc/libvd_rpc.a
src_rpc_libvd_rpc_a_SOURCES = \
	src/rpc/virxdr.h src/rpc/virxdr.cc \
	src/rpc/virnetmessage.h src/rpc/virnetmessage.cc \
	src/rpc/virnetserver.h src/rpc/virnetserver.cc \
	src/rpc/virnetdaemon.h src/rpc/virnetdaemon.cc
