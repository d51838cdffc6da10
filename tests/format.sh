#!/bin/sh
# The C sources are formatted as .clang-format says: every tracked .c and .h of the library directories,
# tests/, examples/ and bench/ passes `clang-format --dry-run --Werror`. One TAP line per file; a file that
# fails shows where it differs, and `clang-format -i FILE` formats it.
#
# clang-format versions format a few constructs differently, so the check runs only with the one the tree
# is formatted with (FORMAT_VERSION, Debian 12's); CLANG_FORMAT names another binary (clang-format-14).
# Skips (exit 77) where that clang-format is missing or the source tree is not a git checkout (a release
# tarball: the files checked are the tracked ones). Needs no build: sh tests/format.sh runs it by hand.
: "${UVA_TOP_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$UVA_TOP_SRCDIR/tests/tap.sh"

FORMAT_VERSION=14
DIRS="common serialize channel actors include remote tests examples bench"
DIAG_LINES=30 # of clang-format's report per file: the first few places are enough to see what is wrong

cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" > /dev/null 2>&1 ||
  tap_skip_all "$cf is not installed (Debian package clang-format; sh tests/deps.sh --ci installs it)"
version=$("$cf" --version | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p')
[ "$version" = "$FORMAT_VERSION" ] ||
  tap_skip_all "$cf is version ${version:-unknown}, the tree is formatted with $FORMAT_VERSION (set CLANG_FORMAT)"
cd "$UVA_TOP_SRCDIR" || tap_bail "cannot enter $UVA_TOP_SRCDIR"
srcdir=$(pwd -P)
[ "$(git rev-parse --show-toplevel 2> /dev/null)" = "$srcdir" ] ||
  tap_skip_all "$srcdir is not a git checkout: the files to check are the tracked ones"
[ -f .clang-format ] || tap_bail ".clang-format is missing: clang-format would check against its own default"

work=$(mktemp -d "${TMPDIR:-/tmp}/uva-format.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$work"' EXIT

for d in $DIRS; do
  git ls-files -- "$d/*.c" "$d/*.h"
done > "$work/files"
[ -s "$work/files" ] || tap_bail "git ls-files found no C sources under $DIRS"

tap_plan "$(wc -l < "$work/files")"
unformatted=0
while IFS= read -r f; do
  "$cf" --dry-run --Werror "$f" < /dev/null > "$work/report" 2>&1
  status=$?
  if [ $status -eq 0 ]; then
    tap_result 0 "$f"
    continue
  fi
  unformatted=$((unformatted + 1))
  places=$(grep -c -- '-Wclang-format-violations' "$work/report")
  if [ "$places" -gt 0 ]; then
    [ "$places" -eq 1 ] && what="1 place differs" || what="$places places differ"
    tap_result 1 "$f: $what from .clang-format (clang-format -i $f)"
  else
    tap_result 1 "$f: $cf failed (exit status $status)"
  fi
  head -n $DIAG_LINES "$work/report" | tap_diag
  [ "$(wc -l < "$work/report")" -le $DIAG_LINES ] || echo "# ..."
done < "$work/files"
[ $unformatted -eq 0 ] ||
  echo "# $unformatted of $(wc -l < "$work/files") files are not formatted; clang-format -i formats them in place"

tap_done
