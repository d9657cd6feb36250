## util suites (tests/*test.cc for util) are added here.
