// SPDX-License-Identifier: MIT
#include <mehdb/store.h>

namespace mehdb {

Batch& Batch::Put(std::string_view key, std::string_view value) {
  ops_.push_back({LogOp::Kind::kPut, std::string(key), std::string(value)});
  return *this;
}

Batch& Batch::Erase(std::string_view key) {
  ops_.push_back({LogOp::Kind::kErase, std::string(key), {}});
  return *this;
}

Batch& Batch::Expect(std::string_view key, Seq version) {
  conditions_.push_back({std::string(key), version});
  return *this;
}

}  // namespace mehdb
