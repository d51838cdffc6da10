# TAP for the shell tests (sourced, POSIX sh): plan, then one ok/not ok line per check.
# Diagnostics go to stdout as "# ..." lines, which automake's TAP driver copies into the test's log.
tap_n=0
tap_failed=0

tap_plan() { echo "1..$1"; }
# A skip is TAP's "1..0 # SKIP why" and exit 77, the status a plain harness (or a person) takes for a skip;
# the TAP driver reads the plan and ignores the status (tests/local.mk).
tap_skip_all() { echo "1..0 # SKIP $1"; exit 77; }
tap_bail() { echo "Bail out! $1"; exit 1; }
tap_diag() { sed 's/^/# /'; }

# tap_result STATUS DESCRIPTION: ok if STATUS is 0.
tap_result() {
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $tap_n - $2"
  else
    echo "not ok $tap_n - $2"
    tap_failed=$((tap_failed + 1))
  fi
}

# The "not ok" lines are the failures; a non-zero exit would count each of them twice (as an ERROR).
tap_done() { exit 0; }
