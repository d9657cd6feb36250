#!/bin/bash
# The same virsh commands and the same python-libvirt loop against libvirtd
# (Debian's libvirt-daemon + libvirt-daemon-driver-qemu, contained: its own
# network namespace, its own mount namespace with private /run, /var/lib,
# /var/cache, /var/log and /etc/libvirt, sockets under a temporary
# directory) and against `virt-direct serve`, in one run:
#   - virsh start / destroy of a domain with N direct NICs (default 1 82 250)
#   - virsh list --all with 500 defined domains
#   - 10,000 python-libvirt calls (XMLDesc + state, alternating)
# Both daemons are stopped by PID, every domain is destroyed first, and the
# namespace is removed on every exit path.
#   bench/rpcbench.sh BUILD_DIR [N...]     (root)
set -euo pipefail
build=${1:?usage: rpcbench.sh BUILD_DIR [N...]}; shift
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1 82 250)
reps=${BENCH_REPS:-3}
ndomains=${BENCH_DOMAINS:-500}
ncalls=${BENCH_CALLS:-10000}
vd="$build/tools/virt-direct"
ns="vd-rpcbench-$$"
root=$(mktemp -d /tmp/vd-rpcbench.XXXXXX)
lvpid=""; vdpid=""
LV_URI="qemu+unix:///system?socket=$root/lv/sock/libvirt-sock"
VD_URI="virt-direct+unix:///system?socket=$root/vd/run/libvirt-sock"
python=/usr/bin/python3

command -v libvirtd >/dev/null || { echo "rpcbench: no libvirtd (apt-get install libvirt-daemon); skipped"; exit 0; }
$python -c 'import libvirt' 2>/dev/null || { echo "rpcbench: no python3-libvirt; skipped"; exit 0; }

vsh() { virsh -q -c "$1" "${@:2}"; }
cleanup() {
    set +e
    for uri in "$VD_URI" "$LV_URI"; do
        for d in $(vsh "$uri" list --name 2>/dev/null); do vsh "$uri" destroy "$d" >/dev/null 2>&1; done
    done
    [ -n "$vdpid" ] && kill "$vdpid" 2>/dev/null && wait "$vdpid" 2>/dev/null
    [ -n "$lvpid" ] && kill "$lvpid" 2>/dev/null && wait "$lvpid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add vbp0 type veth peer name vbp1
ip -n "$ns" link set vbp0 up
ip -n "$ns" link set vbp1 up
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wait_socket() { for _ in $(seq 1 300); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "no socket $1" >&2; cat "$2" >&2; exit 1; }

# --- the contained libvirtd ---------------------------------------------
mkdir -p "$root/lv/etc" "$root/lv/sock"
cat > "$root/lv/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$root/lv/sock"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
CONF
cat > "$root/lv/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
# libvirtd resolves its QEMU user (libvirt-qemu) before reading qemu.conf:
# give it one in private copies of passwd/group rather than on the host.
cp /etc/passwd "$root/lv/passwd"; cp /etc/group "$root/lv/group"
grep -q '^libvirt-qemu:' "$root/lv/passwd" ||
    echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >> "$root/lv/passwd"
grep -q '^libvirt-qemu:' "$root/lv/group" || echo 'libvirt-qemu:x:64055:' >> "$root/lv/group"
ip netns exec "$ns" unshare --mount --propagation private bash -c "
    mount --bind '$root/lv/passwd' /etc/passwd && mount --bind '$root/lv/group' /etc/group &&
    mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib &&
    mount -t tmpfs tmpfs /var/cache && mount -t tmpfs tmpfs /var/log &&
    mount --bind '$root/lv/etc' /etc/libvirt &&
    exec libvirtd --config '$root/lv/etc/libvirtd.conf'" > "$root/lv/out.log" 2>&1 &
lvpid=$!
wait_socket "$root/lv/sock/libvirt-sock" "$root/lv/out.log"
for _ in $(seq 1 100); do vsh "$LV_URI" uri >/dev/null 2>&1 && break; sleep 0.2; done
vsh "$LV_URI" uri >/dev/null || { echo "libvirtd did not come up:" >&2; tail "$root/lv/out.log" >&2; exit 1; }

# --- virt-direct serve --------------------------------------------------
mkdir -p "$root/vd"
ip netns exec "$ns" "$vd" --root "$root/vd" serve > "$root/vd.log" 2>&1 &
vdpid=$!
wait_socket "$root/vd/run/libvirt-sock" "$root/vd.log"

domain_xml() { # name nics
    echo "<domain type='qemu'><name>$1</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
    echo "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    echo "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
    for _ in $(seq 1 "$2"); do
        echo "<interface type='direct'><source dev='vbp0' mode='bridge'/><model type='virtio'/></interface>"
    done
    echo "</devices></domain>"
}

# start and destroy times (medians) of a domain with N NICs: "start destroy"
start_destroy() { # uri n
    local uri=$1 n=$2 name="b$2" s=() d=() t0 t1 t2
    domain_xml "$name" "$n" > "$root/$name.xml"
    vsh "$uri" define "$root/$name.xml" >/dev/null
    vsh "$uri" start "$name" >/dev/null; vsh "$uri" destroy "$name" >/dev/null # warm up
    for _ in $(seq 1 "$reps"); do
        t0=$(now); vsh "$uri" start "$name" >/dev/null; t1=$(now)
        vsh "$uri" destroy "$name" >/dev/null; t2=$(now)
        s+=("$(calc "$t1 - $t0")"); d+=("$(calc "$t2 - $t1")")
    done
    vsh "$uri" undefine "$name" >/dev/null
    echo "$(printf '%s\n' "${s[@]}" | median) $(printf '%s\n' "${d[@]}" | median)"
}

echo "virsh start/destroy of one domain with N direct NICs (medians of $reps; seconds)"
printf '%-6s %14s %14s %7s %16s %16s\n' NICs "libvirtd start" "vd start" ratio "libvirtd destroy" "vd destroy"
for n in "${sizes[@]}"; do
    read -r ls ld <<<"$(start_destroy "$LV_URI" "$n")"
    read -r vs vdst <<<"$(start_destroy "$VD_URI" "$n")"
    printf '%-6s %14s %14s %6.2fx %16s %16s\n' "$n" "$ls" "$vs" "$(calc "$vs / $ls")" "$ld" "$vdst"
done

# --- list --all with many domains, and the python loop --------------------
cat > "$root/define.py" <<'PY'
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    conn.defineXML("<domain type='qemu'><name>l%d</name><memory unit='MiB'>128</memory>"
                   "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
                   "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
                   "<interface type='direct'><source dev='vbp0' mode='bridge'/></interface>"
                   "</devices></domain>" % i)
PY
cat > "$root/undefine.py" <<'PY'
import sys, libvirt
conn = libvirt.open(sys.argv[1])
for d in conn.listAllDomains():
    d.undefine()
PY
cat > "$root/calls.py" <<'PY'
import sys, time, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("l0")
n = int(sys.argv[2])
t0 = time.monotonic()
for i in range(n // 2):
    dom.XMLDesc()
    dom.state()
print("%.1f" % (n / (time.monotonic() - t0)))
PY
list_time() { # uri
    local t=() t0 t1
    for _ in $(seq 1 "$reps"); do
        t0=$(now); vsh "$1" list --all >/dev/null; t1=$(now); t+=("$(calc "$t1 - $t0")")
    done
    printf '%s\n' "${t[@]}" | median
}
$python "$root/define.py" "$LV_URI" "$ndomains"
$python "$root/define.py" "$VD_URI" "$ndomains"
lvl=$(list_time "$LV_URI"); vdl=$(list_time "$VD_URI")
lvc=$($python "$root/calls.py" "$LV_URI" "$ncalls"); vdc=$($python "$root/calls.py" "$VD_URI" "$ncalls")
$python "$root/undefine.py" "$LV_URI"; $python "$root/undefine.py" "$VD_URI"
echo
printf '%-40s %12s %12s %7s\n' "" libvirtd virt-direct ratio
printf '%-40s %12s %12s %6.2fx\n' "virsh list --all, $ndomains domains (s)" "$lvl" "$vdl" "$(calc "$vdl / $lvl")"
printf '%-40s %12s %12s %6.2fx\n' "python XMLDesc+state calls per second" "$lvc" "$vdc" "$(calc "$vdc / $lvc")"
