#!/bin/sh
# Build (once) the test guest for end-to-end tests into CACHE_DIR:
#   vmlinuz         Debian's cloud kernel (the package linux-image-cloud-amd64
#                   depends on), fetched with `apt-get download`
#   initramfs.cpio  busybox-static, the virtio-net modules, udptool and
#                   tests/guest/init as /init
#   udptool         the same static UDP tool, for the host side of a test
# Idempotent: a stamp records the kernel package and a hash of the inputs;
# concurrent runs serialise on a lock.  Exit status 77 means "cannot build
# here" (no root, no network, missing tools) so tests can skip.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
cache=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

skip() { echo "build-guest: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip "must run as root (the initramfs needs /dev/console)"
for tool in apt-cache apt-get dpkg-deb gcc flock; do
    command -v $tool > /dev/null || skip "$tool is missing"
done
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || skip "busybox is missing (apt-get install busybox-static)"
if ldd "$busybox" > /dev/null 2>&1; then
    skip "$busybox is not static (apt-get install busybox-static)"
fi

exec 9> "$cache/.lock"
flock 9

pkg=$(apt-cache depends linux-image-cloud-amd64 2> /dev/null |
      awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$pkg" ] || skip "cannot resolve linux-image-cloud-amd64 (apt-get update?)"
inputs=$(cat "$here/build-guest.sh" "$here/init" "$here/udptool.c" "$busybox" | sha256sum | cut -c1-16)
want="$pkg $inputs"
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$want" ] &&
   [ -f "$cache/vmlinuz" ] && [ -f "$cache/initramfs.cpio" ] && [ -x "$cache/udptool" ]; then
    echo "build-guest: up to date ($want)"
    exit 0
fi

tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The .deb is kept: a change of the init script must not re-download.
deb=$(ls "$cache"/${pkg}_*.deb 2> /dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    (cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$pkg") > "$tmp/download.log" 2>&1 ||
        { cat "$tmp/download.log" >&2; skip "apt-get download $pkg failed"; }
    mv "$tmp"/${pkg}_*.deb "$cache/"
    deb=$(ls "$cache"/${pkg}_*.deb | head -n 1)
fi
dpkg-deb -x "$deb" "$tmp/pkg"

root=$tmp/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/lib/modules" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

# insmod order matters: dependencies first (see tests/guest/init).
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         failover net_failover virtio_net; do
    src=$(find "$tmp/pkg/lib/modules" -name "$m.ko*" | head -n 1)
    [ -n "$src" ] || { echo "build-guest: module $m not in $pkg (built in?)" >&2; continue; }
    # busybox insmod cannot read compressed modules: decompress here.
    case "$src" in
        *.ko.xz) xz -dc "$src" > "$root/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$src" > "$root/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$src" > "$root/lib/modules/$m.ko" ;;
        *) cp "$src" "$root/lib/modules/$m.ko" ;;
    esac
done

${CC:-gcc} -static -Os -Wall -Wextra -o "$tmp/udptool" "$here/udptool.c"
cp "$tmp/udptool" "$root/bin/udptool"

(cd "$root" && find . | "$busybox" cpio -o -H newc > "$tmp/initramfs.cpio" 2> /dev/null)
cp "$(ls "$tmp"/pkg/boot/vmlinuz-* | head -n 1)" "$tmp/vmlinuz"

for f in vmlinuz initramfs.cpio udptool; do
    mv -f "$tmp/$f" "$cache/$f"
done
echo "$want" > "$cache/stamp"
echo "build-guest: built $cache ($want)"
