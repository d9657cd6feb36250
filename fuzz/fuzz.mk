## fuzz: libFuzzer targets, one per input format an attacker or a crash can
## hand us.  Built only in a clang build configured with --enable-fuzzing;
## `make fuzz` (any build) sets one up under fuzz-build/ and runs each target
## for FUZZ_SECONDS on its seed corpus (the test data, or fuzz/corpus/NAME/).
FUZZ_TARGETS = fuzz/fuzz_domainxml fuzz/fuzz_json fuzz/fuzz_namesfile \
	fuzz/fuzz_capscache fuzz/fuzz_netlink
FUZZ_SECONDS = 60
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-seed=1 (what .ci/run uses, so that a
# CI run is reproducible).
FUZZ_FLAGS =

EXTRA_DIST += fuzz/run-fuzzers fuzz/corpus fuzz/README.md fuzz/make-netlink-seeds.cc \
	fuzz/fuzz_domainxml.cc fuzz/fuzz_json.cc fuzz/fuzz_namesfile.cc \
	fuzz/fuzz_capscache.cc fuzz/fuzz_netlink.cc

if ENABLE_FUZZING
noinst_PROGRAMS += $(FUZZ_TARGETS)
FUZZ_LINK = -fsanitize=fuzzer
fuzz_fuzz_domainxml_SOURCES = fuzz/fuzz_domainxml.cc
fuzz_fuzz_domainxml_LDADD = src/conf/libvd_conf.a src/util/libvd_util.a $(VD_LIBS)
fuzz_fuzz_domainxml_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
fuzz_fuzz_json_SOURCES = fuzz/fuzz_json.cc
fuzz_fuzz_json_LDADD = src/util/libvd_util.a $(VD_LIBS)
fuzz_fuzz_json_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
fuzz_fuzz_namesfile_SOURCES = fuzz/fuzz_namesfile.cc
fuzz_fuzz_namesfile_LDADD = src/util/libvd_util.a $(VD_LIBS)
fuzz_fuzz_namesfile_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
fuzz_fuzz_capscache_SOURCES = fuzz/fuzz_capscache.cc
fuzz_fuzz_capscache_LDADD = src/qemu/libvd_qemu.a src/conf/libvd_conf.a \
	src/util/libvd_util.a $(VD_LIBS)
fuzz_fuzz_capscache_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
fuzz_fuzz_netlink_SOURCES = fuzz/fuzz_netlink.cc
fuzz_fuzz_netlink_LDADD = src/util/libvd_util.a $(VD_LIBS)
fuzz_fuzz_netlink_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)

fuzz-targets: $(FUZZ_TARGETS)
fuzz-run: fuzz-targets
	FUZZ_FLAGS="$(FUZZ_FLAGS)" $(srcdir)/fuzz/run-fuzzers $(abs_top_srcdir) $(FUZZ_SECONDS) \
		$(FUZZ_TARGETS)
endif
.PHONY: fuzz-targets fuzz-run

# A copy of the distributed tree (so this in-tree build is not disturbed),
# configured once with clang; later runs rebuild only what changed.
fuzz:
	@rm -rf fuzz-build/src && mkdir -p fuzz-build
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) distdir distdir=fuzz-build/src >/dev/null
	$(AM_V_at)mkdir -p fuzz-build/obj
	$(AM_V_at)cd fuzz-build/obj && { test -f Makefile || \
		../src/configure CXX=clang++ --enable-fuzzing --disable-werror >configure.log; }
	$(AM_V_at)$(MAKE) -C fuzz-build/obj fuzz-run FUZZ_SECONDS=$(FUZZ_SECONDS) \
		FUZZ_FLAGS="$(FUZZ_FLAGS)"
.PHONY: fuzz
