#!/bin/sh
# A network partition between two nodes, each in a network namespace of its own, joined by a veth pair:
# node b listens in one, node a connects from the other (tests/remote_node). Once their session is up the
# link goes down: no reset, no FIN, the frames just stop, as when a cable is cut. Both sides must see the
# peer lost by its heartbeats (UV_ETIMEDOUT), not hang; once the link is up again, a's connection comes back
# by itself and a new session begins. Needs root (CAP_NET_ADMIN) and iproute2 (ip netns); where the machine
# does not let the test make namespaces (an unprivileged container, CI without them) it is skipped, saying
# why.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

node=$UVA_TOP_BUILDDIR/tests/remote_node
[ -x "$node" ] || tap_bail "$node is not built"
command -v ip > /dev/null 2>&1 || tap_skip_all "no ip command (iproute2): cannot make network namespaces"
[ "$(id -u)" -eq 0 ] || tap_skip_all "not root: cannot make network namespaces (run as root, or in CI with CAP_NET_ADMIN)"

tag=uva$$
ns_a=${tag}a
ns_b=${tag}b
work=$(mktemp -d "${TMPDIR:-/tmp}/uva-partition.XXXXXX") || tap_bail "mktemp failed"
cleanup() {
  exec 3>&- 4>&- 2> /dev/null
  [ -n "${pid_a:-}" ] && kill "$pid_a" 2> /dev/null
  [ -n "${pid_b:-}" ] && kill "$pid_b" 2> /dev/null
  ip netns del "$ns_a" 2> /dev/null
  ip netns del "$ns_b" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if ! { ip netns add "$ns_a" && ip netns add "$ns_b"; } 2> "$work/netns.err"; then
  tap_skip_all "this machine does not let the test make network namespaces: $(head -n 1 "$work/netns.err")"
fi
# Some containers let a namespace be made but not entered (ip netns exec mounts /sys), or have no veth.
ip netns exec "$ns_a" true 2> "$work/netns.err" ||
  tap_skip_all "this machine does not let the test run a program in a network namespace: $(head -n 1 "$work/netns.err")"
{ ip link add "${tag}x" netns "$ns_a" type veth peer name "${tag}y" netns "$ns_b" &&
  ip -n "$ns_a" addr add 10.201.0.1/24 dev "${tag}x" && ip -n "$ns_b" addr add 10.201.0.2/24 dev "${tag}y" &&
  ip -n "$ns_a" link set "${tag}x" up && ip -n "$ns_b" link set "${tag}y" up &&
  ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up; } 2> "$work/netns.err" ||
  tap_skip_all "could not join the two namespaces with a veth pair: $(head -n 1 "$work/netns.err")"

tap_plan 5

# wait_for FILE PATTERN SECONDS [COUNT]: whether COUNT (1) lines of FILE match PATTERN within SECONDS. The
# nodes' heartbeat timeout is 1 s, 10 s in a sanitized build (tests/remote_timing.h): the waits allow for it.
wait_for() {
  i=0
  while [ "$i" -lt $(($3 * 10)) ]; do
    [ "$(grep -c "$2" "$1" 2> /dev/null)" -ge "${4:-1}" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# Each node reads its stdin until it closes: a fifo the test holds open (fd 3 for b, 4 for a). Their heartbeat
# timeout is 1 s here (remote_node's is long by default, so that a slow machine loses no peer).
export UVA_NODE_TIMEOUT_MS=1000
mkfifo "$work/b.in" "$work/a.in"
ip netns exec "$ns_b" "$node" b tcp://10.201.0.2:7461 plain < "$work/b.in" > "$work/b.out" 2> "$work/b.err" &
pid_b=$!
exec 3> "$work/b.in"
wait_for "$work/b.out" '^listening' 10
tap_result $? "b listens in its namespace"
ip netns exec "$ns_a" "$node" a tcp://10.201.0.1:7462 plain -c tcp://10.201.0.2:7461 b \
  < "$work/a.in" > "$work/a.out" 2> "$work/a.err" &
pid_a=$!
exec 4> "$work/a.in"
wait_for "$work/a.out" '^up b' 10
tap_result $? "a connects to b across the namespaces: a session"

ip -n "$ns_a" link set "${tag}x" down
wait_for "$work/a.err" 'event 2 peer=b .*ETIMEDOUT' 45 && wait_for "$work/b.err" 'event 2 peer=a .*ETIMEDOUT' 45
tap_result $? "the link down, each side loses the other by its heartbeats (ETIMEDOUT), without a reset"

ip -n "$ns_a" link set "${tag}x" up
wait_for "$work/a.out" '^up b' 30 2
tap_result $? "the link up again, a's connection comes back by itself: a new session"

exec 3>&- 4>&-
wait "$pid_a"
status_a=$?
wait "$pid_b"
status_b=$?
pid_a= pid_b=
[ "$status_a" -eq 0 ] && [ "$status_b" -eq 0 ]
tap_result $? "a and b end cleanly (status $status_a, $status_b)"
for f in a.err b.err; do
  sed "s/^/$f: /" "$work/$f" | tap_diag
done
tap_done
