#!/bin/sh
# The shared library exports the API and nothing else: every dynamic symbol it defines is a public uva_*
# name (internal uva__* names and everything else stay hidden), every function or variable the public
# headers declare with UVA_EXTERN is exported, and nothing is exported that no header declares.
# Nothing is ignored: the export list (-export-symbols-regex in Makefile.am) and -fvisibility=hidden leave
# no toolchain symbols (_init, _fini, __bss_start, ...) in the dynamic table, sanitized builds included.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

la=$UVA_TOP_BUILDDIR/libuvactor.la
[ -f "$la" ] || tap_bail "$la is not built"
dlname=$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$la")
[ -n "$dlname" ] || tap_skip_all "built without a shared library (configure --disable-shared)"
so=$UVA_TOP_BUILDDIR/.libs/$dlname
[ -f "$so" ] || tap_bail "$so is not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/uva-symbols.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$work"' EXIT

tap_plan 5

# Defined dynamic symbols, one name a line (the name is the last field in every nm output format).
${UVA_NM:-nm} -D --defined-only "$so" > "$work/nm" 2> "$work/nm.err"
status=$?
awk 'NF >= 2 { print $NF }' "$work/nm" | sort -u > "$work/exported"
[ $status -eq 0 ] && [ -s "$work/exported" ]
tap_result $? "$dlname exports symbols ($(wc -l < "$work/exported") of them)"
[ $status -eq 0 ] || tap_diag < "$work/nm.err"

grep -v '^uva_' "$work/exported" > "$work/foreign"
[ ! -s "$work/foreign" ]
tap_result $? "every exported symbol starts with uva_"
tap_diag < "$work/foreign"

grep '^uva__' "$work/exported" > "$work/internal"
[ ! -s "$work/internal" ]
tap_result $? "no internal uva__* symbol is exported"
tap_diag < "$work/internal"

# Names the public headers declare with UVA_EXTERN: the first uva_ identifier followed by "(" (a function)
# or by ";" or "[" (a variable). A declaration may continue on the lines after UVA_EXTERN.
# The one exception is a build configured with --enable-fault-injection, never a production build: it
# exports the test hooks common/alloc.h declares (uva_fault_*), so the tests in their own binaries can
# reach them; there, and only there, those declarations count too.
headers=$(find "$UVA_TOP_SRCDIR/include" -name '*.h')
[ "${UVA_FAULT_INJECTION:-no}" = no ] || headers="$headers $UVA_TOP_SRCDIR/common/alloc.h"
cat $headers | awk '
  /^[ \t]*#/ { next }
  /UVA_EXTERN/ { decl = "" ; open = 1 }
  open {
    decl = decl " " $0
    if (match(decl, /uva_[a-z0-9_]*[ \t]*\(/) || match(decl, /uva_[a-z0-9_]*[ \t]*[;[]/)) {
      name = substr(decl, RSTART, RLENGTH)
      sub(/[ \t(;[]*$/, "", name)
      print name
      open = 0
    }
  }' | sort -u > "$work/declared"

comm -23 "$work/declared" "$work/exported" > "$work/missing"
[ -s "$work/declared" ] && [ ! -s "$work/missing" ]
tap_result $? "every UVA_EXTERN declaration of the public headers is exported ($(wc -l < "$work/declared") declared)"
sed 's/$/ is declared but not exported/' "$work/missing" | tap_diag

comm -13 "$work/declared" "$work/exported" > "$work/undeclared"
[ ! -s "$work/undeclared" ]
tap_result $? "every exported symbol is declared in a public header"
sed 's/$/ is exported but no header declares it with UVA_EXTERN/' "$work/undeclared" | tap_diag

tap_done
