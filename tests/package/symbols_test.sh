#!/usr/bin/env bash
# libmehdb.so exports the public API and nothing else: no Impl or State
# members, nothing from mehdb::internal, no instantiations of the standard
# library (libmehdb.map decides; this checks the built file).
# Usage: symbols_test.sh LIBMEHDB_SO
set -euo pipefail
lib=$1
symbols=$(nm -D --defined-only "$lib" | c++filt | cut -d' ' -f3- | sed 's/@@MEHDB_0$//')
bad=$(grep -vE '^(mehdb::|typeinfo for mehdb::Store$|typeinfo name for mehdb::Store$|vtable for mehdb::Store$|MEHDB_0$)' <<<"$symbols" || true)
bad+=$(grep -E '::Impl\b|::State\b|mehdb::internal::' <<<"$symbols" || true)
if [ -n "$bad" ]; then
  echo "not ok 1 - exported symbols that are not public API:"
  sed 's/^/#   /' <<<"$bad"
  exit 1
fi
for want in 'mehdb::Store::Open(' 'mehdb::Store::Write(' 'mehdb::Scanner::Next()' \
            'mehdb::DecodeLogBatch(' 'mehdb::Status::ToString['; do
  if ! grep -qF "$want" <<<"$symbols"; then
    echo "not ok 1 - $want is not exported"
    exit 1
  fi
done
echo "ok 1 - $(wc -l <<<"$symbols") exported symbols, all public API"
echo "1..1"
