#!/usr/bin/env bash
# Builds examples/subproject -- a program outside the tree -- with mehdb as
# its meson subproject (the example's wrap, the source tree as
# subprojects/mehdb): only the library is configured, built and installed,
# and the program runs.
# Usage: subproject_test.sh SOURCE_ROOT
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; sed 's/^/#   /' "$work/log" 2>/dev/null | tail -20; echo "1..$n"; exit 1; }

cp -r "$src/examples/subproject" "$work/consumer"
ln -s "$src" "$work/consumer/subprojects/mehdb"
# ccache (which meson uses when present) hits across runs despite the
# scratch directory's random name.
export CCACHE_BASEDIR=$work
meson setup "$work/build" "$work/consumer" --force-fallback-for=mehdb \
  --wrap-mode=nodownload >"$work/log" 2>&1 || fail "meson setup with mehdb as a subproject"
ok "meson setup finds mehdb through subprojects/mehdb.wrap"

targets=$(meson introspect "$work/build" --targets | python3 -c '
import json, sys
print("\n".join(sorted(t["name"] for t in json.load(sys.stdin))))')
if [ "$targets" != $'consumer\nmehdb' ]; then
  printf '%s\n' "$targets" >"$work/log"
  fail "only the consumer and libmehdb are configured"
fi
ok "only the consumer and libmehdb are configured"

installed=$(meson introspect "$work/build" --installed | python3 -c '
import json, sys
print("\n".join(sorted(json.load(sys.stdin).values())))')
if grep -vqE '/(libmehdb\.so[.0-9]*|mehdb/[a-z_]+\.h|mehdb\.pc)$' <<<"$installed"; then
  printf '%s\n' "$installed" >"$work/log"
  fail "the subproject installs the library, its headers and mehdb.pc only"
fi
ok "the subproject installs the library, its headers and mehdb.pc only"

ninja -C "$work/build" >"$work/log" 2>&1 || fail "ninja builds the consumer"
"$work/build/consumer" "$work/data" >"$work/log" 2>&1 || fail "the consumer runs"
grep -q "from = a subproject" "$work/log" || fail "the consumer reads its write back"
ok "the consumer builds and runs"
echo "1..$n"
