#!/bin/sh
# The cross-language test: tests/remote_peer.py, a node written in Python from docs/remote.md alone (pyzmq
# and msgpack), talks to tests/remote_node and prints its own TAP. Needs a python3 with the zmq and msgpack
# modules (configure looks for one: UVA_PYTHON_PEER); without it the test is skipped, saying so.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

[ -n "${UVA_PYTHON_PEER:-}" ] ||
  tap_skip_all "no python3 with the zmq and msgpack modules (Debian: python3-zmq python3-msgpack; sh tests/deps.sh)"
node=$UVA_TOP_BUILDDIR/tests/remote_node
[ -x "$node" ] || tap_bail "$node is not built"
"$UVA_PYTHON_PEER" "$UVA_TOP_SRCDIR/tests/remote_peer.py" "$node" || tap_bail "tests/remote_peer.py failed"
tap_done
