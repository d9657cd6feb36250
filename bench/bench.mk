## bench: benchmarks printing ratios against baselines measured in the same run
noinst_PROGRAMS += bench/netdevbench
bench_netdevbench_SOURCES = bench/netdevbench.cc
bench_netdevbench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
bench_netdevbench_LDADD = tests/libvd_testsupport.a src/util/libvd_util.a $(VD_LIBS)

# `make bench`: run the benchmarks (root; everything happens in a private
# network namespace).  BENCH_ARGS="82 250" picks the sizes.
.PHONY: bench
bench: bench/netdevbench tools/virt-direct
	$(top_builddir)/bench/netdevbench $(BENCH_ARGS)
	$(abs_top_srcdir)/bench/domainbench.sh $(abs_top_builddir) $(DOMAIN_BENCH_ARGS)
	$(abs_top_srcdir)/bench/rpcbench.sh $(abs_top_builddir) $(RPC_BENCH_ARGS)
EXTRA_DIST += bench/domainbench.sh bench/rpcbench.sh

# `make soak` (root, long): 1,000 start/destroy cycles of a 10-NIC domain and
# 100 concurrent start/destroy pairs in a private network namespace, then
# checks that no link, reserved name, runtime file, process or fd is left.
# SOAK_CYCLES, SOAK_PAIRS and SOAK_NICS change the sizes.
.PHONY: soak
soak: tools/virt-direct
	$(abs_top_srcdir)/bench/soak.sh $(abs_top_builddir)
EXTRA_DIST += bench/soak.sh
