#!/bin/sh
# Every example program runs to the end and exits 0. They are real programs, so this is the check that
# they still work against the library as it is now. wordfreq, the showcase, counts only the examples
# directory, which keeps it fast; with the remote transport it counts it again on two more processes (-r),
# and must find the same words. In TESTS only when the examples are built (configure's default).
. "$UVA_TOP_SRCDIR/tests/tap.sh"

examples=$UVA_TOP_BUILDDIR/examples
work=$(mktemp -d "${TMPDIR:-/tmp}/uva-examples.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$work"' EXIT

# A hung example must fail the test, not the whole `make check'.
limit=
if command -v timeout > /dev/null 2>&1; then
  limit="timeout 120"
fi

# run NAME [ARG...]: one TAP line; on failure the exit status and the end of the output as diagnostics.
run() {
  name=$1
  shift
  if [ ! -f "$examples/$name" ]; then
    tap_result 1 "$name (not built: $examples/$name is missing)"
    return
  fi
  $limit "$examples/$name" "$@" > "$work/$name.out" 2>&1
  status=$?
  tap_result $status "$name"
  if [ $status -ne 0 ]; then
    { [ $status -eq 124 ] && echo "killed after 120 s" || echo "exit status $status"; tail -n 30 "$work/$name.out"; } |
      tap_diag
  fi
}

remote=0
[ "${UVA_REMOTE:-no}" = yes ] && remote=1
tap_plan $((10 + 2 * remote))
run msgdemo
run pingpong 2000
run pipeline
run broadcast
run lookup
run blocking
run supervised
run kv
run wordfreq -j 2 "$UVA_TOP_SRCDIR/examples"
if [ $remote -eq 1 ]; then
  cp "$work/wordfreq.out" "$work/wordfreq.local"
  run wordfreq -j 2 -r "$UVA_TOP_SRCDIR/examples"
  sed -n '/^top/,/^$/p' "$work/wordfreq.local" > "$work/top.local"
  sed -n '/^top/,/^$/p' "$work/wordfreq.out" > "$work/top.remote"
  [ -s "$work/top.local" ] && cmp -s "$work/top.local" "$work/top.remote"
  tap_result $? "wordfreq -r (counters on two more processes) counts the same words as local counters"
  diff "$work/top.local" "$work/top.remote" | tap_diag
fi
run mandel -w 320 -h 240 -i 200 -o "$work/mandel.pgm"
tap_done
