#!/bin/bash
# End-to-end test of `virt-direct create` with a real guest: in a private
# network namespace, virt-direct creates the bridge-mode macvtap on one veth
# end, starts QEMU (TCG) under its supervisor; the guest pings the peer on
# the other veth end and sends a UDP datagram, then powers off; the
# supervisor must then delete the macvtap and remove the runtime state.
#
#   e2e-virt-direct.sh CACHE_DIR VIRT_DIRECT_BINARY [NICS [lifecycle]]
#
# With "lifecycle" the guest keeps pinging instead of powering off; the
# script flips NIC 0's link with domif-setlink (pings must stop, then
# resume) and ends the guest with `virt-direct destroy`.
#
# Exit 0 pass, 1 fail, 77 skip.  Namespace, --root directory and processes
# are removed on every exit.  VD_E2E_KEEP=1 keeps the work directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: e2e-virt-direct.sh CACHE_DIR VIRT_DIRECT [NICS]}
vd=${2:?usage: e2e-virt-direct.sh CACHE_DIR VIRT_DIRECT [NICS]}
nics=${3:-1}
mode=${4:-poweroff}
qemu=$(command -v qemu-system-x86_64 || true)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
[ -n "$qemu" ] || skip "qemu-system-x86_64 not installed"
[ -x "$vd" ] || skip "$vd not built"
"$here/build-guest.sh" "$cache" > /dev/null || { rc=$?; [ $rc = 77 ] && skip "guest kit unavailable"; exit 1; }

ns=vd-e2evd-$$-$RANDOM
work=$(mktemp -d /tmp/vd-e2evd.XXXXXX)
root=$work/root
listener_pids=
in_ns() { ip netns exec "$ns" "$@"; }
vdc() { in_ns "$vd" --root "$root" "$@"; }
cleanup() {
    # Whatever is still running goes through virt-direct itself first.
    vdc destroy e2e > /dev/null 2>&1
    for p in $listener_pids; do kill -KILL "$p" 2> /dev/null; done
    wait 2> /dev/null
    ip netns del "$ns" 2> /dev/null
    if [ "${VD_E2E_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail() {
    echo "FAIL: $*"
    [ -f "$work/console.log" ] && sed 's/^/  guest: /' "$work/console.log" | tail -n 20
    find "$root" -name '*.log' -exec tail -n 20 {} + 2> /dev/null | sed 's/^/  log: /'
    exit 1
}

ip netns add "$ns" || fail "ip netns add"
ip -n "$ns" link set lo up
port=5557
cmdline="console=ttyS0 panic=-1 quiet vd.nics=$nics vd.port=$port vd.msg=vd-$ns vd.wait=30"
[ "$mode" = lifecycle ] && cmdline+=" vd.pingloop=150"
ifaces=
for ((k = 0; k < nics; k++)); do
    mac=$(printf '52:54:00:79:%02x:02' "$k")
    ip -n "$ns" link add "vdp$k" type veth peer name "vdq$k" || fail "veth $k"
    ip -n "$ns" link set "vdp$k" up
    ip -n "$ns" link set "vdq$k" up
    ip -n "$ns" addr add "10.79.$k.1/24" dev "vdq$k"
    cmdline+=" vd.ip$k=10.79.$k.2/24 vd.peer$k=10.79.$k.1 vd.mac$k=$mac"
    ifaces+="
    <interface type='direct'>
      <mac address='$mac'/>
      <source dev='vdp$k' mode='bridge'/>
      <model type='virtio'/>
    </interface>"
    in_ns "$cache/udptool" recv "10.79.$k.1" "$port" 120 > "$work/udp$k.out" 2>&1 &
    listener_pids+=" $!"
done
cat > "$work/e2e.xml" <<XML
<domain type='qemu'>
  <name>e2e</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$cache/vmlinuz</kernel>
    <initrd>$cache/initramfs.cpio</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>$qemu</emulator>$ifaces
    <serial type='file'>
      <source path='$work/console.log'/>
    </serial>
  </devices>
</domain>
XML
for ((k = 0; k < nics; k++)); do
    for _ in $(seq 100); do grep -q listening "$work/udp$k.out" && break; sleep 0.05; done
done

start=$EPOCHREALTIME
vdc create "$work/e2e.xml" || fail "virt-direct create"
created=$EPOCHREALTIME
vdc list | grep -q " e2e .*running" || fail "e2e not listed as running: $(vdc list)"
macvtaps=$(ip -n "$ns" -o link show type macvtap | wc -l)
[ "$macvtaps" = "$nics" ] || fail "expected $nics macvtap(s), found $macvtaps"
vdc domiflist e2e

# Wait for `needle` in the guest console after byte offset $2; prints the
# offset just past it.
console_wait() {
    local needle=$1 from=$2 limit=$3 t=$SECONDS text rest
    while :; do
        text=$(cat "$work/console.log" 2> /dev/null)
        rest=${text:$from}
        if [[ "$rest" == *"$needle"* ]]; then
            local before=${rest%%"$needle"*}
            echo $((from + ${#before} + ${#needle}))
            return 0
        fi
        [ $((SECONDS - t)) -lt "$limit" ] || return 1
        sleep 0.1
    done
}

if [ "$mode" = lifecycle ]; then
    pos=$(console_wait "VD-PING ok" 0 120) || fail "guest never pinged"
    vdc domif-setlink e2e macvtap0 down || fail "domif-setlink down"
    vdc domif-getlink e2e macvtap0 | grep -q down || fail "domif-getlink does not say down"
    pos=$(console_wait "VD-PING fail" "$pos" 30) || fail "pings continued with the link down"
    vdc domif-setlink e2e macvtap0 up || fail "domif-setlink up"
    pos=$(console_wait "VD-PING ok" "$pos" 30) || fail "pings did not resume with the link up"
    echo "link down stopped the guest's pings, link up resumed them"
    t0=$EPOCHREALTIME
    vdc destroy e2e || fail "virt-direct destroy"
    printf 'destroy took %s s\n' "$(echo "scale=2; ($EPOCHREALTIME - $t0) / 1" | bc)"
    vdc list --all | grep -q " e2e " && fail "e2e still listed after destroy"
else
    # The guest powers off by itself; the supervisor then tears down.
    deadline=$((SECONDS + 180))
    while vdc list --all 2> /dev/null | grep -q " e2e "; do
        [ $SECONDS -lt $deadline ] || fail "domain still running after 180 s"
        sleep 0.2
    done
fi
end=$EPOCHREALTIME

[ "$mode" = lifecycle ] || grep -q "VD-GUEST-DONE ok" "$work/console.log" || fail "guest reported failure"
for ((k = 0; k < nics; k++)); do
    grep -q "VD-NIC $k .*ping=ok udp=sent" "$work/console.log" || fail "NIC $k: no ping"
    for _ in $(seq 50); do grep -q received "$work/udp$k.out" && break; sleep 0.1; done
    grep -q "received vd-$ns " "$work/udp$k.out" || fail "NIC $k: datagram not received"
done
left=$(ip -n "$ns" -o link show type macvtap | wc -l)
[ "$left" = 0 ] || fail "$left macvtap(s) left after the guest powered off"
stale=$(find "$root" -name '*.state.json' -o -name '*.ctl' -o -name '*.qmp' | wc -l)
[ "$stale" = 0 ] || fail "runtime files left: $(find "$root" -name '*.state.json' -o -name '*.ctl' -o -name '*.qmp')"
grep "VD-NIC" "$work/console.log"
printf 'PASS (%s): virt-direct create %s s, then %s s until torn down, %d NIC(s)\n' "$mode" \
    "$(echo "scale=2; ($created - $start) / 1" | bc)" "$(echo "scale=1; ($end - $created) / 1" | bc)" "$nics"
