// SPDX-License-Identifier: MIT
//
// A program outside mehdb's tree that uses it as a library: one durable
// write and its read-back in the directory given as argv[1].
#include <mehdb/store.h>
#include <mehdb/version.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: consumer DIR\n"), 2;
  auto store = mehdb::Store::Open(argv[1]);
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  auto seq = (*store)->Put("from", "a subproject");
  if (!seq.ok()) return std::fprintf(stderr, "%s\n", seq.status().ToString().c_str()), 1;
  auto value = (*store)->Get("from");
  if (!value.ok() || !value->has_value()) return 1;
  std::printf("mehdb %s: from = %s\n", MEHDB_VERSION, (*value)->data.c_str());
  return 0;
}
