## tools suites (tests/*test.cc for tools) are added here.
