## CLI suites: drive tools/virt-direct with --root in a temporary directory
tests_vdtest_SOURCES += tests/virtdirecttest.cc tests/virtdirectruntest.cc
EXTRA_DIST += tests/virtdirectdata
## End-to-end: `virt-direct start` with a real guest (tests/guest kit), in a
## private network namespace
tests_vdtest_SOURCES += tests/e2evirtdirecttest.cc
## Crash-safe start: faults and crashes at every step, kill -9, disk full
tests_vdtest_SOURCES += tests/startfaulttest.cc
EXTRA_DIST += tests/startfaultdata
