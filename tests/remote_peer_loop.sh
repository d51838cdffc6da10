#!/bin/sh
# tests/remote_peer.sh against a remote_node whose transport runs on its loop (uva_node_options_t.on_loop).
UVA_TEST_ON_LOOP=1
export UVA_TEST_ON_LOOP
. "$UVA_TOP_SRCDIR/tests/remote_peer.sh"
