#!/bin/sh
# Each shared library exports its API and nothing else: every dynamic symbol it defines is a public uva_*
# name (internal uva__* names and everything else stay hidden), every function or variable its public
# headers declare with UVA_EXTERN is exported, and nothing is exported that no header declares. And the core
# library does not need libzmq: only libuvactor-remote does.
# Nothing is ignored: the export list (-export-symbols-regex in Makefile.am) and -fvisibility=hidden leave
# no toolchain symbols (_init, _fini, __bss_start, ...) in the dynamic table, sanitized builds included.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/uva-symbols.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$work"' EXIT

# The libraries and the headers whose UVA_EXTERN declarations each exports: libuvactor every public header
# but uvactor/remote.h, which is libuvactor-remote's (built when configure found libzmq).
# The one exception is a build configured with --enable-fault-injection, never a production build: it
# exports the test hooks common/alloc.h declares (uva_fault_*), so the tests in their own binaries can
# reach them; there, and only there, those declarations count too.
core_headers=$(find "$UVA_TOP_SRCDIR/include" -name '*.h' ! -name remote.h)
[ "${UVA_FAULT_INJECTION:-no}" = no ] || core_headers="$core_headers $UVA_TOP_SRCDIR/common/alloc.h"
libs="libuvactor"
[ -f "$UVA_TOP_BUILDDIR/libuvactor-remote.la" ] && libs="$libs libuvactor-remote"

tap_plan $((1 + 5 * $(echo $libs | wc -w)))

# check_lib NAME HEADERS...: the five checks of one library.
check_lib() {
  name=$1
  shift
  la=$UVA_TOP_BUILDDIR/$name.la
  [ -f "$la" ] || tap_bail "$la is not built"
  dlname=$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$la")
  [ -n "$dlname" ] || tap_skip_all "built without a shared library (configure --disable-shared)"
  so=$UVA_TOP_BUILDDIR/.libs/$dlname
  [ -f "$so" ] || tap_bail "$so is not built"
  w=$work/$name
  mkdir -p "$w"

  # Defined dynamic symbols, one name a line (the name is the last field in every nm output format).
  ${UVA_NM:-nm} -D --defined-only "$so" > "$w/nm" 2> "$w/nm.err"
  status=$?
  awk 'NF >= 2 { print $NF }' "$w/nm" | sort -u > "$w/exported"
  [ $status -eq 0 ] && [ -s "$w/exported" ]
  tap_result $? "$dlname exports symbols ($(wc -l < "$w/exported") of them)"
  [ $status -eq 0 ] || tap_diag < "$w/nm.err"

  grep -v '^uva_' "$w/exported" > "$w/foreign"
  [ ! -s "$w/foreign" ]
  tap_result $? "every symbol $dlname exports starts with uva_"
  tap_diag < "$w/foreign"

  grep '^uva__' "$w/exported" > "$w/internal"
  [ ! -s "$w/internal" ]
  tap_result $? "no internal uva__* symbol is exported by $dlname"
  tap_diag < "$w/internal"

  # Names the headers declare with UVA_EXTERN: the first uva_ identifier followed by "(" (a function) or by
  # ";" or "[" (a variable). A declaration may continue on the lines after UVA_EXTERN.
  cat "$@" | awk '
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
    }' | sort -u > "$w/declared"

  comm -23 "$w/declared" "$w/exported" > "$w/missing"
  [ -s "$w/declared" ] && [ ! -s "$w/missing" ]
  tap_result $? "every UVA_EXTERN declaration of its headers is exported by $dlname ($(wc -l < "$w/declared") declared)"
  sed 's/$/ is declared but not exported/' "$w/missing" | tap_diag

  comm -13 "$w/declared" "$w/exported" > "$w/undeclared"
  [ ! -s "$w/undeclared" ]
  tap_result $? "every symbol $dlname exports is declared in its headers"
  sed 's/$/ is exported but no header declares it with UVA_EXTERN/' "$w/undeclared" | tap_diag
}

check_lib libuvactor $core_headers
${UVA_OBJDUMP:-objdump} -p "$UVA_TOP_BUILDDIR/.libs/$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$UVA_TOP_BUILDDIR/libuvactor.la")" \
  > "$work/needed" 2>&1
grep 'NEEDED.*libzmq' "$work/needed" > "$work/zmq"
grep -q 'NEEDED' "$work/needed" && [ ! -s "$work/zmq" ]
tap_result $? "libuvactor does not need libzmq"
tap_diag < "$work/zmq"
case " $libs " in
  *" libuvactor-remote "*) check_lib libuvactor-remote "$UVA_TOP_SRCDIR/include/uvactor/remote.h" ;;
esac

tap_done
