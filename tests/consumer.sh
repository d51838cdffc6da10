#!/bin/sh
# An outside program builds against the installed library the way README says:
#   cc app.c $(pkg-config --cflags --libs uvactor)
# `make install' goes into a DESTDIR in the build tree; pkg-config is pointed into it with
# PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR, and the programs run with LD_LIBRARY_PATH. The programs are
# README's own (each block from a line "    /* NAME.c" to its "    cc" line, or to the prose after it), so
# README cannot show a program that does not build; app.c, the five-line consumer, must print exactly what
# README says.
. "$UVA_TOP_SRCDIR/tests/tap.sh"

work=$UVA_TOP_BUILDDIR/tests/consumer.dir
dest=$work/dest
libdir=$dest$UVA_LIBDIR
rm -rf "$work" && mkdir -p "$work/src" || tap_bail "cannot make $work"

# README's programs, without their four-space indent, one file each.
awk -v dir="$work/src" '
  file != "" && (/^    cc / || /^[^ ]/) { close(file); file = "" }
  /^    \/\* [a-z_0-9]+\.c/ { name = $2; sub(/:.*/, "", name); file = dir "/" name; print name }
  file != "" { line = $0; sub(/^    /, "", line); print line > file }
' "$UVA_TOP_SRCDIR/README" > "$work/programs"
grep -qx app.c "$work/programs" || tap_bail "README shows no app.c (a block from '    /* app.c' to its cc line)"

remote=0
[ "${UVA_REMOTE:-no}" = yes ] && remote=1
tap_plan $((4 + 2 * $(wc -l < "$work/programs") + 3 * remote))

# The test runs inside `make check'; the install is a make of its own. The parent's MAKEFLAGS would name
# a jobserver this process has no access to, and nothing needs building by now anyway.
(cd "$UVA_TOP_BUILDDIR" && MAKEFLAGS= MFLAGS= ${UVA_MAKE:-make} install DESTDIR="$dest") > "$work/install.log" 2>&1
status=$?
tap_result $status "make install DESTDIR=tests/consumer.dir/dest"
[ $status -eq 0 ] || { tail -n 40 "$work/install.log" | tap_diag; tap_bail "make install failed"; }

# Every public header is installed, in the same place under includedir.
# (uvactor/remote.h only with the remote transport, which installs it with its library.)
(cd "$UVA_TOP_SRCDIR/include" && find . -name '*.h' | sort) |
  if [ "${UVA_REMOTE:-no}" = yes ]; then cat; else grep -v '^\./uvactor/remote\.h$'; fi > "$work/headers.src"
(cd "$dest$UVA_INCLUDEDIR" 2>/dev/null && find . -name '*.h' | sort) > "$work/headers.inst"
diff "$work/headers.src" "$work/headers.inst" > "$work/headers.diff"
tap_result $? "every header of include/ is installed"
tap_diag < "$work/headers.diff"

PKG_CONFIG_PATH=$libdir/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pc=${UVA_PKG_CONFIG:-pkg-config}
version=$($pc --modversion uvactor 2> "$work/pc.err")
[ "$version" = "$UVA_VERSION" ]
tap_result $? "pkg-config finds uvactor $UVA_VERSION in the DESTDIR (got '$version')"
tap_diag < "$work/pc.err"
cflags=$($pc --cflags uvactor) && libs=$($pc --libs uvactor) || tap_bail "pkg-config --cflags --libs failed"

# The configured compiler, plus the sanitizer flags of a sanitized build (a program that loads a sanitized
# library must be built with the same runtime). Warnings are errors: the public headers must stay clean.
while read -r src; do
  prog=${src%.c}
  cmd="$UVA_CC $UVA_CFLAGS -Wall -Wextra -Werror $src $cflags $libs $UVA_LDFLAGS -o $prog"
  (cd "$work/src" && echo "$cmd" && $cmd) < /dev/null > "$work/$prog.cc.log" 2>&1
  status=$?
  tap_result $status "README's $src builds with \$(pkg-config --cflags --libs uvactor)"
  [ $status -eq 0 ] || tap_diag < "$work/$prog.cc.log"

  out=$(cd "$work/src" && LD_LIBRARY_PATH=$libdir "./$prog" < /dev/null 2>&1)
  status=$?
  if [ "$src" = app.c ]; then
    [ $status -eq 0 ] && [ "$out" = "uvactor $UVA_VERSION read back 42" ]
    tap_result $? "README's app.c runs and prints: uvactor $UVA_VERSION read back 42"
  else
    tap_result $status "README's $src runs"
  fi
  printf '%s\n' "$out" | tap_diag
done < "$work/programs"

# They ran against the installed library, not one from the build tree or the system.
(cd "$work/src" && LD_LIBRARY_PATH=$libdir ldd ./app) > "$work/ldd.log" 2>&1
grep -q "libuvactor\.so.* => $libdir/" "$work/ldd.log"
status=$?
tap_result $status "app loads libuvactor from the DESTDIR"
[ $status -eq 0 ] || tap_diag < "$work/ldd.log"

# With the remote transport: a program that includes <uvactor/remote.h> builds with uvactor-remote.pc alone
# (it brings uvactor's flags; libzmq stays inside the library) and loads libuvactor-remote from the DESTDIR.
if [ $remote -eq 1 ]; then
  cat > "$work/src/keys.c" << 'EOF'
#include <stdio.h>
#include <string.h>
#include <uvactor.h>
#include <uvactor/remote.h>

int main(void) {
  char pub[UVA_REMOTE_KEY_LEN + 1], sec[UVA_REMOTE_KEY_LEN + 1];

  if (uva_remote_keypair(pub, sec) != 0)
    return 1;
  printf("keys %zu %zu\n", strlen(pub), strlen(sec));
  return 0;
}
EOF
  rflags=$($pc --cflags --libs uvactor-remote 2> "$work/pc-remote.err")
  tap_result $? "pkg-config finds uvactor-remote in the DESTDIR"
  tap_diag < "$work/pc-remote.err"
  cmd="$UVA_CC $UVA_CFLAGS -Wall -Wextra -Werror keys.c $rflags $UVA_LDFLAGS -o keys"
  (cd "$work/src" && echo "$cmd" && $cmd) < /dev/null > "$work/keys.cc.log" 2>&1
  tap_result $? "a program of <uvactor/remote.h> builds with \$(pkg-config --cflags --libs uvactor-remote)"
  tap_diag < "$work/keys.cc.log"
  out=$(cd "$work/src" && LD_LIBRARY_PATH=$libdir ./keys 2>&1) &&
    [ "$out" = "keys 40 40" ] && (cd "$work/src" && LD_LIBRARY_PATH=$libdir ldd ./keys) |
    grep -q "libuvactor-remote\.so.* => $libdir/"
  tap_result $? "it runs against libuvactor-remote from the DESTDIR (printed: $out)"
fi

tap_done
