#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and builds a program outside the
# tree against it the way the README says, through pkg-config: it compiles
# with -std=c++20, runs, and without C++20 the headers say what is missing.
# Usage: pkgconfig_test.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$1 build=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; sed 's/^/#   /' "$dest/log" 2>/dev/null | head -20; echo "1..$n"; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$dest" --quiet >"$dest/log" 2>&1 ||
  fail "meson install --destdir"
pc=$(find "$dest" -name mehdb.pc | head -n 1)
[ -n "$pc" ] || fail "mehdb.pc is installed"
ok "meson install puts mehdb.pc at ${pc#"$dest"}"
# The .pc names /usr/local/...; the sysroot puts $dest in front of it.
export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs mehdb) || fail "pkg-config --cflags --libs mehdb"
libdir=$(find "$dest" -name 'libmehdb.so' -printf '%h\n' | head -n 1)

# shellcheck disable=SC2086  # the flags are words
g++ -std=c++20 "$src/examples/embed.cc" $flags -o "$dest/embed" >"$dest/log" 2>&1 ||
  fail "g++ -std=c++20 embed.cc \$(pkg-config --cflags --libs mehdb)"
ok "g++ -std=c++20 embed.cc \$(pkg-config --cflags --libs mehdb) builds"
LD_LIBRARY_PATH=$libdir "$dest/embed" "$dest/data" >"$dest/log" 2>&1 || fail "the program runs"
grep -q "greeting = hello, mehdb" "$dest/log" || fail "the program reads its write back"
ok "the program runs against the installed libmehdb.so"

# shellcheck disable=SC2086
if g++ -std=c++17 -fsyntax-only "$src/examples/embed.cc" $flags >"$dest/log" 2>&1; then
  fail "C++17 is refused"
fi
grep -q "mehdb's headers need C++20" "$dest/log" || fail "the C++17 error names C++20"
ok "with -std=c++17 the first error says the headers need C++20"
echo "1..$n"
