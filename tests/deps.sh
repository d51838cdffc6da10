#!/bin/sh
# Installs the Debian packages uvactor needs, only those that are missing (nothing to do: no apt-get).
#   sh tests/deps.sh        to build and test: compiler, autotools, libuv, msgpack-c, Check, python3 (the
#                           docs check, tests/apidocs.sh), libzmq (libuvactor-remote) and python3's zmq and
#                           msgpack modules (the cross-language test, tests/remote_peer.sh)
#   sh tests/deps.sh --ci   also what .ci/run uses: valgrind, clang and its sanitizer and fuzzer runtimes,
#                           clang-format (tests/format.sh)
# Uses sudo when not run as root.
set -eu

pkgs="build-essential autoconf automake libtool pkg-config libuv1-dev libmsgpack-dev check libsubunit-dev python3
  libzmq3-dev python3-zmq python3-msgpack"
case "${1-}" in
  --ci) pkgs="$pkgs valgrind clang libclang-rt-dev clang-format" ;;
  "") ;;
  *) echo "usage: sh tests/deps.sh [--ci]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query > /dev/null 2>&1; then
  echo "deps.sh: not a Debian system; make sure the equivalents of these are installed: $pkgs" >&2
  exit 0
fi

missing=
for p in $pkgs; do
  dpkg-query -W -f '${Status}\n' "$p" 2> /dev/null | grep -q ' installed$' || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps.sh: installing$missing"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
