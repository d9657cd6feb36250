## CLI suites: drive tools/virt-direct with --root in a temporary directory
tests_vdtest_SOURCES += tests/virtdirecttest.cc tests/virtdirectruntest.cc
EXTRA_DIST += tests/virtdirectdata
