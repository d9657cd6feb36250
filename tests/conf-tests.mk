## conf suites (tests/*test.cc for conf) are added here.
