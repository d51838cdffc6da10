#!/bin/sh
# bench/uvactor-top runs its actor system for two seconds, shows a screen each half second and ends by
# itself (-t), its actors joined and its loop closed (exit 0). Each screen names every actor with a number
# for its utilization. What the numbers are depends on the machine: only their shape is checked here
# (test_stats holds the counters to exact values).
. "$UVA_TOP_SRCDIR/tests/tap.sh"

top=$UVA_TOP_BUILDDIR/bench/uvactor-top
work=$(mktemp -d "${TMPDIR:-/tmp}/uva-top.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$work"' EXIT
[ -x "$top" ] || tap_bail "$top is not built"

limit=
if command -v timeout > /dev/null 2>&1; then
  limit="timeout 60"
fi

tap_plan 3
$limit "$top" -t 2 -i 500 > "$work/out" 2> "$work/err"
status=$?
tap_result $status "uvactor-top -t 2 ends by itself and exits 0"
[ $status -eq 0 ] || { echo "exit status $status"; cat "$work/err"; } | tap_diag

screens=$(grep -c '^uvactor-top .* actors, .* ports, .* in flight' "$work/out")
[ "$screens" -ge 3 ]
tap_result $? "it showed a screen every half second ($screens)"

# Every screen has a row for each of the five actors: a name, then a utilization in percent (or "-").
rows=$(grep -cE '^(gateway|worker-[123]|sink) +([0-9]+\.[0-9]|-) ' "$work/out")
[ "$rows" -eq $((screens * 5)) ]
tap_result $? "each screen has a row per actor ($rows rows in $screens screens)"
[ "$rows" -eq $((screens * 5)) ] || tap_diag < "$work/out"
tap_done
