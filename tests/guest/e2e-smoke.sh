#!/bin/bash
# End-to-end smoke test of the macvtap recipe on this machine, without
# virt-direct: in a private network namespace, a veth pair; a bridge-mode
# macvtap on one end; the peer address and a UDP listener on the other end;
# QEMU (TCG) boots the test guest with the macvtap's tap fd.  Passes when the
# guest pinged the peer, the datagram arrived and the guest powered off.
#
#   e2e-smoke.sh CACHE_DIR [NICS]
#
# NICS macvtaps (default 1), each with its own /24 and peer on its own veth
# pair.  Exit 0 pass, 1 fail, 77 skip (not root, no QEMU, no guest kit).
# Everything it creates (namespace, tap nodes, processes) is removed on
# exit, also on failure or interruption; nothing outside the namespace is
# touched.  VD_E2E_KEEP=1 keeps the work directory for inspection.
# VD_E2E_SUPERVISOR=PROGRAM runs QEMU under the per-domain supervisor
# (PROGRAM calls vd::qemu::supervisorMain, e.g. tests/vdsupervisorhelper).
set -u

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: e2e-smoke.sh CACHE_DIR [NICS]}
nics=${2:-1}
qemu=${QEMU:-qemu-system-x86_64}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v "$qemu" > /dev/null || skip "$qemu not installed"
command -v ip > /dev/null || skip "iproute2 not installed"
"$here/build-guest.sh" "$cache" || { rc=$?; [ $rc = 77 ] && skip "guest kit unavailable"; exit 1; }

ns=vd-e2e-$$-$RANDOM
work=$(mktemp -d /tmp/vd-e2e.XXXXXX)
qemu_pid= listener_pids=
cleanup() {
    # Kill only what we started, by PID.
    [ -n "$qemu_pid" ] && kill -KILL "$qemu_pid" 2> /dev/null
    for p in $listener_pids; do kill -KILL "$p" 2> /dev/null; done
    wait 2> /dev/null
    ip netns del "$ns" 2> /dev/null
    if [ "${VD_E2E_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() { echo "FAIL: $*"; [ -f "$work/console.log" ] && sed 's/^/  guest: /' "$work/console.log" | tail -n 30; exit 1; }

ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up
port=5555
append="console=ttyS0 panic=-1 quiet vd.nics=$nics vd.port=$port vd.msg=hello-$ns vd.wait=30"
qemu_net=()
macs=()
for ((k = 0; k < nics; k++)); do
    mac=$(printf '52:54:00:77:%02x:02' "$k")
    ip -n "$ns" link add "vdp$k" type veth peer name "vdq$k" || fail "veth $k"
    ip -n "$ns" link set "vdp$k" up
    ip -n "$ns" link set "vdq$k" up
    ip -n "$ns" addr add "10.77.$k.1/24" dev "vdq$k"
    # The macvtap's MAC must be the guest NIC's, or bridge mode drops replies.
    ip -n "$ns" link add link "vdp$k" name "vdmvt$k" address "$mac" type macvtap mode bridge ||
        fail "macvtap $k"
    ip -n "$ns" link set "vdmvt$k" up
    # Never /dev/tap<ifindex>: ifindexes are per namespace, the node names
    # are global.  Use the device number from the namespace's own sysfs and
    # a private node.
    majmin=$(ip netns exec "$ns" sh -c "cat /sys/class/net/vdmvt$k/macvtap/tap*/dev") ||
        fail "tap device number $k"
    mknod "$work/tap$k" c "${majmin%%:*}" "${majmin##*:}" || fail "mknod tap$k"
    macs[k]=$mac
    append+=" vd.ip$k=10.77.$k.2/24 vd.peer$k=10.77.$k.1 vd.mac$k=$mac"
    ip netns exec "$ns" "$cache/udptool" recv "10.77.$k.1" "$port" 120 > "$work/udp$k.out" 2>&1 &
    listener_pids+=" $!"
done
# The listeners must be bound before the guest sends.
for ((k = 0; k < nics; k++)); do
    for _ in $(seq 100); do grep -q listening "$work/udp$k.out" && break; sleep 0.05; done
    grep -q listening "$work/udp$k.out" || fail "UDP listener $k did not start"
done

# Open the taps only now, so the listeners did not inherit them.
tapfds=()
for ((k = 0; k < nics; k++)); do
    exec {fd}<> "$work/tap$k" || fail "open tap$k"
    tapfds+=("$fd")
    qemu_net+=(-netdev "tap,fd=$fd,id=hn$k" -device "virtio-net-pci,netdev=hn$k,mac=${macs[k]},id=net$k")
done

qemu_argv=("$qemu" -M pc -accel tcg -m 256 -smp 1 -nodefaults -no-user-config -display none
           -no-reboot -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio" -append "$append"
           "${qemu_net[@]}" -serial "file:$work/console.log")
start=$EPOCHREALTIME
if [ -n "${VD_E2E_SUPERVISOR:-}" ]; then
    # Through the per-domain supervisor: it becomes QEMU's parent, and its
    # teardown must run once the guest powered off.
    json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
    qemu_argv+=(-chardev "socket,id=charmonitor,path=$work/monitor.sock,server=on,wait=off"
                -mon "chardev=charmonitor,id=monitor,mode=control")
    {
        printf '{"name":"e2e","argv":['
        sep=
        for a in "${qemu_argv[@]}"; do printf '%s%s' "$sep" "$(json_str "$a")"; sep=,; done
        printf '],"passFds":[%s],' "$(IFS=,; echo "${tapfds[*]}")"
        printf '"monitorSocket":%s,"controlSocket":%s,"stateFile":%s,"qemuLog":%s,' \
            "$(json_str "$work/monitor.sock")" "$(json_str "$work/control.sock")" \
            "$(json_str "$work/state.json")" "$(json_str "$work/qemu.log")"
        printf '"state":{"teardownMarker":%s}}\n' "$(json_str "$work/teardown")"
    } > "$work/config.json"
    "$VD_E2E_SUPERVISOR" < "$work/config.json" > "$work/ready.json" 2> "$work/supervisor.log" &
    qemu_pid=$! # the supervisor: killing it takes QEMU along (PDEATHSIG)
else
    "${qemu_argv[@]}" > "$work/qemu.log" 2>&1 &
    qemu_pid=$!
fi
# QEMU holds the tap fds now; drop our copies.
for fd in "${tapfds[@]}"; do exec {fd}<&-; done
deadline=$((SECONDS + 180))
while kill -0 "$qemu_pid" 2> /dev/null; do
    [ $SECONDS -lt $deadline ] || fail "guest did not power off within 180 s"
    sleep 0.2
done
wait "$qemu_pid"; qrc=$?; qemu_pid=
end=$EPOCHREALTIME
[ $qrc = 0 ] || { cat "$work/qemu.log" "$work/supervisor.log" 2> /dev/null; fail "QEMU (or its supervisor) exited with $qrc"; }
if [ -n "${VD_E2E_SUPERVISOR:-}" ]; then
    grep -q '"ready":true' "$work/ready.json" || fail "supervisor did not report ready: $(cat "$work/ready.json")"
    grep -q "exit status 0" "$work/teardown" 2> /dev/null || fail "supervisor teardown did not run"
    [ ! -e "$work/state.json" ] || fail "supervisor left its state file"
    [ ! -e "$work/control.sock" ] || fail "supervisor left its control socket"
    echo "supervisor: ready, QEMU exited, teardown ran, state removed"
fi

grep -q "VD-GUEST-DONE ok" "$work/console.log" || fail "guest reported failure"
for ((k = 0; k < nics; k++)); do
    grep -q "VD-NIC $k .*ping=ok udp=sent" "$work/console.log" || fail "NIC $k: no ping"
    for _ in $(seq 50); do grep -q received "$work/udp$k.out" && break; sleep 0.1; done
    grep -q "received hello-$ns " "$work/udp$k.out" || fail "NIC $k: datagram not received"
done
grep "VD-NIC" "$work/console.log"
printf 'PASS: %d NIC(s), boot to poweroff %s s\n' "$nics" "$(echo "scale=1; ($end - $start) / 1" | bc)"
