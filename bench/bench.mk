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
EXTRA_DIST += bench/domainbench.sh
