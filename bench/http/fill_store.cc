// SPDX-License-Identifier: MIT
//
// Fills a data directory with COUNT keys ("key0000000"...) of VALUE_BYTES
// bytes before bench/http/run.sh starts mehdbd on it, so the 100,000-key
// measurements do not spend minutes loading through HTTP. The directory is
// laid out as mehdbd opens it (StoreHandle: `current` -> store-NNNNNN);
// run.sh still checks the key count mehdbd reports before timing.
//
//   fill_store DIR COUNT [VALUE_BYTES]
#include <fcntl.h>
#include <mehdb/store.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "store/store_handle.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: fill_store DIR COUNT [VALUE_BYTES]\n";
    return 2;
  }
  const long count = std::atol(argv[2]);
  const std::size_t value_bytes =
      argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1024;
  mehdb::Options options;
  options.durability = mehdb::Durability::kNoSync;  // loading, not measuring
  auto handle = mehdbd::StoreHandle::Open(argv[1], options);
  if (!handle.ok()) {
    std::cerr << "fill_store: " << handle.status().ToString() << "\n";
    return 1;
  }
  std::shared_ptr<mehdb::Store> store = (*handle)->Current();
  const std::string value(value_bytes, 'v');
  for (long i = 0; i < count;) {
    mehdb::Batch batch;
    for (long n = 0; n < 1000 && i < count; ++n, ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "key%07ld", i);
      batch.Put(key, value);
    }
    if (auto seq = store->Write(batch); !seq.ok()) {
      std::cerr << "fill_store: " << seq.status().ToString() << "\n";
      return 1;
    }
  }
  store.reset();
  handle->reset();
  // Flush now: writeback of the unsynced load would otherwise run during
  // the measurements and skew them.
  const std::string file = std::string(argv[1]) + "/current/data.mdb";
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    std::cerr << "fill_store: cannot sync " << file << "\n";
    return 1;
  }
  ::close(fd);
  return 0;
}
