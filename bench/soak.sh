#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Soak test (`make soak`, root): SOAK_CYCLES (1000) start/destroy cycles of one
# 10-NIC domain, then SOAK_PAIRS (100) domains started and destroyed
# concurrently, all in a private network namespace with a veth parent and a
# scratch --root (no guest OS: QEMU runs its firmware only).  At the end
# everything must be back to zero:
#   - links in the namespace other than the veth pair and lo,
#   - reserved names and link groups in the name pool,
#   - runtime files under run/ (QEMU's logs, the id counter and the name
#     pool files are kept by design and listed separately),
#   - processes started for the scratch root (supervisors, QEMUs),
#   - fds of ANY process on the machine pointing into the scratch root or at
#     a tap device of the namespace.
# It also samples the fd counts of each supervisor and QEMU it starts: they
# must not grow from one cycle to the next.  Exits 1 if anything is left or
# any command failed.
#   bench/soak.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: soak.sh BUILD_DIR}
cycles=${SOAK_CYCLES:-1000}
pairs=${SOAK_PAIRS:-100}
nics=${SOAK_NICS:-10}
vd="$build/tools/virt-direct"
ns="vd-soak-$$"
root=$(mktemp -d /tmp/vd-soak.XXXXXX)
cleanup() {
    # Stop whatever a failure left running, by the pids the state files name.
    for f in "$root"/run/qemu/*.state.json; do
        [ -e "$f" ] || continue
        ip netns exec "$ns" "$vd" --root "$root" destroy "$(basename "$f" .state.json)" \
            >/dev/null 2>&1
    done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "soak: needs root (network namespaces)"; exit 77; }
ip netns add "$ns"
ip -n "$ns" link add vsp0 type veth peer name vsp1
ip -n "$ns" link set vsp0 up
ip -n "$ns" link set vsp1 up
in_ns() { ip netns exec "$ns" "$@"; }
vdc() { in_ns "$vd" --root "$root" "$@"; }

domain_xml() { # name n
    echo "<domain type='qemu'><name>$1</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
    echo "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    for _ in $(seq 1 "$2"); do
        echo "<interface type='direct'><source dev='vsp0' mode='bridge'/><model type='virtio'/></interface>"
    done
    echo "</devices></domain>"
}

failures=0
fail() { failures=$((failures + 1)); echo "soak: FAILED: $*"; }
fdcount() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
statepid() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$root/run/qemu/$1.state.json" 2>/dev/null; }

# ---- 1: cycles of one 10-NIC domain ----------------------------------------
domain_xml soak "$nics" > "$root/soak.xml"
vdc define "$root/soak.xml" >/dev/null || fail "define soak"
declare -A supfds qemufds
t0=$(date +%s.%N)
for i in $(seq 1 "$cycles"); do
    if ! out=$(vdc start soak 2>&1); then
        fail "start #$i: $out"
        continue
    fi
    s=$(statepid soak supervisorPid)
    q=$(statepid soak qemuPid)
    [ -n "$s" ] && supfds[$(fdcount "$s")]=1
    [ -n "$q" ] && qemufds[$(fdcount "$q")]=1
    out=$(vdc destroy soak 2>&1) || fail "destroy #$i: $out"
    [ $((i % 100)) = 0 ] && echo "soak: $i/$cycles cycles"
done
t1=$(date +%s.%N)
echo "soak: $cycles start/destroy cycles of a $nics-NIC domain in $(awk "BEGIN {printf \"%.0f\", $t1 - $t0}") s"
echo "soak: supervisor fd counts seen: ${!supfds[*]}; QEMU fd counts seen: ${!qemufds[*]}"
[ ${#supfds[@]} -le 1 ] || fail "the supervisor's fd count varies between cycles"
[ ${#qemufds[@]} -le 1 ] || fail "QEMU's fd count varies between cycles"

# ---- 2: concurrent start/destroy pairs -------------------------------------
for i in $(seq 1 "$pairs"); do
    domain_xml "p$i" 1 > "$root/p$i.xml"
    vdc define "$root/p$i.xml" >/dev/null || fail "define p$i"
done
t0=$(date +%s.%N)
for i in $(seq 1 "$pairs"); do
    (
        out=$(vdc start "p$i" 2>&1) || { echo "start p$i: $out" > "$root/fail-p$i"; exit; }
        out=$(vdc destroy "p$i" 2>&1) || echo "destroy p$i: $out" > "$root/fail-p$i"
    ) &
done
wait
t1=$(date +%s.%N)
for f in "$root"/fail-p*; do
    [ -e "$f" ] && fail "$(cat "$f")" && rm -f "$f"
done
echo "soak: $pairs concurrent start/destroy pairs in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"

# ---- what is left ----------------------------------------------------------
links=$(ip -n "$ns" -o link show | grep -cv ': \(lo\|vsp0@vsp1\|vsp1@vsp0\):')
names=$(grep -Eo 'macvtap[0-9]+' "$root/run/qemu/netdev/names" 2>/dev/null | wc -l)
groups=$(grep -c '^group ' "$root/run/qemu/netdev/names" 2>/dev/null)
runtime=$(cd "$root/run" && find . -mindepth 1 ! -type d ! -name '*.log' \
    ! -path ./qemu/domain-ids ! -path ./qemu/netdev/names ! -path ./qemu/netdev/names.lock | sort)
kept=$(cd "$root/run" && find . -mindepth 1 ! -type d | wc -l)
procs=0
fds=0
for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = $$ ] && continue
    if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q -- "$root"; then
        procs=$((procs + 1))
        echo "soak: left process $pid: $(tr '\0' ' ' < "$p/cmdline")"
    fi
    n=$(ls -l "$p/fd" 2>/dev/null | grep -c -- "-> $root\|-> /dev/tap\|-> .*/tap[0-9]")
    [ "$n" -gt 0 ] && { fds=$((fds + n)); echo "soak: process $pid holds $n fds into the scratch root or taps"; }
done
echo "soak: left: links=$links reserved-names=$names groups=${groups:-0} runtime-files=$(echo -n "$runtime" | grep -c .) processes=$procs fds=$fds (kept by design: $kept files = logs, id counter, name pool)"
[ -z "$runtime" ] || echo "$runtime" | sed 's/^/soak: left file: run\//'
[ "$links" = 0 ] || fail "links left in the namespace"
[ "$names" = 0 ] || fail "names still reserved"
[ "${groups:-0}" = 0 ] || fail "link groups still reserved"
[ -z "$runtime" ] || fail "runtime files left"
[ "$procs" = 0 ] || fail "processes left"
[ "$fds" = 0 ] || fail "fds left"
echo "soak: $failures failures"
[ "$failures" = 0 ]
