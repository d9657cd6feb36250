## src/qemu: capabilities, command line, process and monitor
