## CLI suites: drive tools/virt-direct with --root in a temporary directory
tests_vdtest_SOURCES += tests/virtdirecttest.cc
EXTRA_DIST += tests/virtdirectdata
