#!/bin/sh
# Prepare a fresh checkout: optionally install the Debian build dependencies,
# generate the build system and configure it in-tree.
#   ./autogen.sh [--install-deps] [configure options...]
set -e
cd "$(dirname "$0")"
if [ "$1" = "--install-deps" ]; then
    shift
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        g++ make autoconf automake autopoint gettext pkg-config \
        libxml2-dev libxml2-utils libnl-3-dev libnl-route-3-dev libcppunit-dev \
        libvirt-dev iproute2 qemu-system-x86 busybox-static cpio kmod bc xz-utils zstd \
        libvirt-clients python3-libvirt systemd \
        ca-certificates clang libclang-rt-14-dev clang-format >/dev/null
fi
autoreconf -fi
./configure "$@"
