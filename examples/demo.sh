#!/bin/bash
# The virt-direct demo.  Runs entirely inside a private network namespace
# with a veth pair as the macvtap parent and a throw-away --root; both are
# removed on exit, also on failure.
#   examples/demo.sh [BUILD_DIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
vd="$build/tools/virt-direct"
ns="vd-demo-$$"
root=$(mktemp -d /tmp/vd-demo-root.XXXXXX)

cleanup() {
    set +e
    ip netns del "$ns" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }
in_ns() { ip netns exec "$ns" "$@"; }

echo "== virt-direct demo: private namespace $ns, state under $root"
ip netns add "$ns"
in_ns ip link add vd-host type veth peer name vd-peer
in_ns ip link set lo up
in_ns ip link set vd-host up
in_ns ip link set vd-peer up
in_ns ip addr add 192.0.2.1/24 dev vd-peer

sed "s/@PARENT@/vd-host/g" "$top/examples/demo-guest.xml.in" > "$root/demo-guest.xml"

step "cat demo-guest.xml"; cat "$root/demo-guest.xml"
run in_ns "$vd" --root "$root" validate "$root/demo-guest.xml"
run in_ns "$vd" --root "$root" define "$root/demo-guest.xml"
run in_ns "$vd" --root "$root" list --all
run in_ns "$vd" --root "$root" dumpxml demo

step "a bad definition is refused and leaves nothing behind"
sed "s/mode='bridge'/mode='bogus'/" "$root/demo-guest.xml" > "$root/bad.xml"
in_ns "$vd" --root "$root" define "$root/bad.xml" || echo "(exit status $?)"

run in_ns "$vd" --root "$root" undefine demo
run in_ns "$vd" --root "$root" list --all
step "ip -n $ns link show type macvtap   # nothing left"
ip -n "$ns" link show type macvtap
echo "== demo finished"
