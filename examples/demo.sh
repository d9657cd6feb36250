#!/bin/bash
# The virt-direct demo: a real guest on two macvtap NICs.
#
#   examples/demo.sh [BUILD_DIR]        (as root; `make demo` runs it)
#
# Everything happens inside a private network namespace made for the demo,
# with two veth pairs as the macvtap parents, and a throw-away --root for
# virt-direct's state.  The guest (Debian's cloud kernel + a busybox
# initramfs, built once by tests/guest/build-guest.sh and cached in
# $VD_GUEST_CACHE, default /var/tmp/virt-direct-guest) pings an address on
# the far end of each veth pair and sends a UDP datagram there, which a
# listener prints.  Then the guest is destroyed and the demo shows that
# nothing is left.  The namespace, the state directory and every process the
# demo started are removed on every exit path; the root namespace is never
# touched.  Without network access to fetch the kernel package the demo
# shows the configuration commands only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
build=$(cd "$build" && pwd)
vd_bin="$build/tools/virt-direct"
cache=${VD_GUEST_CACHE:-/var/tmp/virt-direct-guest}
ns="vd-demo-$$"
root=
listener_pids=()
qemu_pid=
supervisor_pid=
started=0

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n\033[1;34m$ %s\033[0m\n' "$*"; }
heading() { printf '\n\033[1;34m-- %s\033[0m\n' "$*"; }
note() { printf '\033[2m# %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$ns" "$@"; }
# virt-direct as a user would run it, inside the namespace.
vd() { in_ns "$vd_bin" --root "$root" "$@"; }
run_vd() { step "virt-direct $*"; vd "$@"; }

# Is PID (still) a process of ours whose command line contains NEEDLE?
is_ours() {
    [ -n "$1" ] && tr '\0' ' ' 2> /dev/null < "/proc/$1/cmdline" | grep -q -- "$2"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    if [ "$started" = 1 ] && [ -f "$root/run/qemu/demo.state.json" ]; then
        vd destroy demo > /dev/null 2>&1
    fi
    # Belt and braces: only the pids this demo recorded, and only while
    # they still are the demo's QEMU and supervisor (no pid reuse).
    is_ours "$qemu_pid" "guest=demo" && kill -KILL "$qemu_pid"
    is_ours "$supervisor_pid" "supervise demo" && kill -KILL "$supervisor_pid"
    for p in "${listener_pids[@]}"; do kill -KILL "$p" 2> /dev/null; done
    for p in "${listener_pids[@]}"; do wait "$p" 2> /dev/null; done
    ip netns del "$ns" 2> /dev/null
    [ -n "$root" ] && rm -rf "$root"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
    echo "The demo creates a network namespace: run it as root." >&2
    exit 1
fi
[ -x "$vd_bin" ] || { echo "$vd_bin not built: run 'make' first" >&2; exit 1; }

t0=$SECONDS
root=$(mktemp -d /tmp/vd-demo-root.XXXXXX)
bold "== virt-direct demo: private network namespace $ns, state under $root"

# Two veth pairs: the macvtaps sit on vd-host0/vd-host1, the guest's peers
# are on the other ends.  In bridge mode a macvtap cannot reach its own
# parent's addresses, hence the peer on the far end.
ip netns add "$ns"
in_ns ip link set lo up
for i in 0 1; do
    in_ns ip link add "vd-host$i" type veth peer name "vd-peer$i"
    in_ns ip link set "vd-host$i" up
    in_ns ip link set "vd-peer$i" up
done
in_ns ip addr add 192.0.2.1/24 dev vd-peer0
in_ns ip addr add 198.51.100.1/24 dev vd-peer1
note "in $ns: vd-host0 <-> vd-peer0 (192.0.2.1), vd-host1 <-> vd-peer1 (198.51.100.1)"

step "tests/guest/build-guest.sh $cache"
guest=1
"$top/tests/guest/build-guest.sh" "$cache" || {
    rc=$?
    [ $rc = 77 ] || exit $rc
    guest=0
    note "no guest kit here (kernel package not downloadable?): showing configuration only"
}

sed -e "s|@PARENT@|vd-host0|g" -e "s|@PARENT2@|vd-host1|g" \
    -e "s|@KERNEL@|$cache/vmlinuz|g" -e "s|@INITRD@|$cache/initramfs.cpio|g" \
    -e "s|@CONSOLE@|$root/demo-console.log|g" \
    "$top/examples/demo-guest.xml.in" > "$root/demo-guest.xml"

step "cat demo-guest.xml"
sed -n '/^<domain/,$p' "$root/demo-guest.xml"
run_vd validate "$root/demo-guest.xml"

sed "s/mode='bridge'/mode='bogus'/" "$root/demo-guest.xml" > "$root/bad.xml"
step "virt-direct define $root/bad.xml   # mode='bogus': refused, nothing stored"
vd define "$root/bad.xml" 2>&1 || note "exit status $?"

run_vd define "$root/demo-guest.xml"
run_vd list --all

if [ "$guest" = 0 ]; then
    run_vd undefine demo
    bold "== demo finished (configuration only) in $((SECONDS - t0)) s"
    exit 0
fi

# UDP listeners on the peers, bound before the guest boots.
for i in 0 1; do
    peer=$([ $i = 0 ] && echo 192.0.2.1 || echo 198.51.100.1)
    # Not through the in_ns function: a backgrounded function runs in a
    # subshell, and $! would name that subshell instead of the listener.
    ip netns exec "$ns" "$cache/udptool" recv "$peer" 5555 300 > "$root/udp$i.out" 2>&1 &
    listener_pids+=($!)
done
for i in 0 1; do
    for _ in $(seq 100); do grep -qs listening "$root/udp$i.out" && break; sleep 0.05; done
done
note "UDP listeners on 192.0.2.1:5555 and 198.51.100.1:5555"

started=1
run_vd start demo
qemu_pid=$(sed -n 's/.*"qemuPid": *\([0-9]*\).*/\1/p' "$root/run/qemu/demo.state.json")
supervisor_pid=$(sed -n 's/.*"supervisorPid": *\([0-9]*\).*/\1/p' "$root/run/qemu/demo.state.json")
run_vd list
run_vd domiflist demo
step "virt-direct dumpxml demo   # live XML, the <interface> elements"
vd dumpxml demo | sed -n '/<interface/,/<\/interface>/p'
step "grep -o -- '-netdev [^ ]*' $root/run/qemu/demo.log   # QEMU got the macvtaps as fds"
grep -o -- "-netdev [^ ]*" "$root/run/qemu/demo.log"
step "ip -n $ns -d link show type macvtap   # name@parent, MAC, mode"
ip -n "$ns" -o -d link show type macvtap |
    awk '{ for (i = 1; i < NF; i++) { if ($i == "link/ether") mac = $(i + 1);
                                      if ($i == "macvtap" && $(i + 1) == "mode") mode = $(i + 2) }
           print "  " $2, mac, "mode " mode }'

heading "waiting for the guest (TCG) to boot and reach both peers"
deadline=$((SECONDS + 180))
until grep -q "VD-PING ok" "$root/demo-console.log" 2> /dev/null; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$qemu_pid" 2> /dev/null; then
        echo "the guest did not come up; its console:" >&2
        cat "$root/demo-console.log" >&2 2> /dev/null
        exit 1
    fi
    sleep 0.5
done
note "guest console (serial port -> $root/demo-console.log):"
grep -a '^VD-' "$root/demo-console.log" | sed 's/^/  guest| /'
for i in 0 1; do
    for _ in $(seq 50); do grep -q received "$root/udp$i.out" && break; sleep 0.1; done
    note "listener on vd-peer$i:"
    sed 's/^/  udp| /' "$root/udp$i.out"
    grep -q "VD-NIC $i .*ping=ok udp=sent" "$root/demo-console.log" && grep -q received "$root/udp$i.out" ||
        { echo "demo FAILED: no traffic from the guest's NIC $i" >&2; exit 1; }
done
step "ip -n $ns -s link show vd-peer0   # the guest's packets arrived here"
ip -n "$ns" -s link show vd-peer0
step "ip -n $ns neigh show dev vd-peer0   # the guest's MAC, learned from its ARP"
ip -n "$ns" neigh show dev vd-peer0

run_vd destroy demo
started=0
run_vd list --all
step "ip -n $ns link show type macvtap   # nothing left"
left=$(ip -n "$ns" link show type macvtap)
[ -z "$left" ] || { echo "$left"; echo "demo FAILED: macvtaps left behind" >&2; exit 1; }
step "ls -A $root/run/qemu   # left: QEMU's log, the id counter, the name pool"
ls -A "$root/run/qemu"
step "cat $root/run/qemu/netdev/names   # no name reserved any more"
cat "$root/run/qemu/netdev/names"
is_ours "$qemu_pid" "guest=demo" && { echo "QEMU $qemu_pid still running" >&2; exit 1; }
is_ours "$supervisor_pid" "supervise demo" && { echo "supervisor $supervisor_pid still running" >&2; exit 1; }
note "QEMU ($qemu_pid) and its supervisor ($supervisor_pid) are gone"
qemu_pid= supervisor_pid=
run_vd undefine demo
bold "== demo finished in $((SECONDS - t0)) s"
