## qemu suites (tests/*test.cc for qemu) are added here.
