// SPDX-License-Identifier: MIT
//
// The smallest useful program that embeds libmehdb: open a store in a
// directory, write durably, read back, page through keys. Run by the tests.
#include <mehdb/store.h>

#include <cstdio>

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "./embed-data";
  auto store = mehdb::Store::Open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir, store.status().ToString().c_str());
    return 1;
  }
  auto seq = (*store)->Put("greeting", "hello, mehdb");  // on disk on return
  if (!seq.ok()) return std::fprintf(stderr, "%s\n", seq.status().ToString().c_str()), 1;
  auto value = (*store)->Get("greeting");
  if (!value.ok() || !value->has_value()) return 1;
  std::printf("greeting = %s (version %llu)\n", (*value)->data.c_str(),
              static_cast<unsigned long long>((*value)->version));
  auto page = (*store)->Scan({.prefix = "gr", .start_after = "", .limit = 10});
  if (!page.ok()) return 1;
  std::printf("keys with prefix 'gr': %zu\n", page->items.size());
  return 0;
}
