#!/bin/sh
# The API sections of docs/*.md are what tests/apidocs.py makes from the public headers' comments, and every
# public declaration of include/uvactor/*.h is in one of them: the headers are the one source of the API's
# documentation. A page that differs fails with a diff and the command that regenerates it. The tool needs
# python3 (tests/deps.sh installs it); without it the test is skipped, saying so, never passed.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

python=${PYTHON3:-python3}
command -v "$python" > /dev/null 2>&1 ||
  tap_skip_all "$python not found: the API sections of docs/ are not checked (sh tests/deps.sh installs it)"
"$python" "$UVA_TOP_SRCDIR/tests/apidocs.py" --tap --srcdir "$UVA_TOP_SRCDIR" || tap_bail "tests/apidocs.py failed"
tap_done
