// SPDX-License-Identifier: MIT
//
// Fuzz target: change-log batch decoding (DecodeLogBatch, the bytes a
// follower receives from its leader) and history ids. Properties: nothing
// crashes or leaks; a batch that decodes is exactly the concatenation of
// its records' frames (the format has one encoding per record: fixed-width
// big-endian integers, exact lengths, no padding), so re-encoding gives the
// same bytes; decoded records are consecutive and their keys valid; a
// history id read from hex prints back as the same hex.
#include <mehdb/replication.h>
#include <mehdb/store.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  if (size >= 32) {
    const std::string_view hex = bytes.substr(0, 32);
    if (auto id = mehdb::HistoryId::FromHex(hex); id && id->ToHex() != hex)
      mehdb_fuzz::Fail("a history id does not print as the hex it came from");
  }

  auto records = mehdb::DecodeLogBatch(bytes);
  if (!records.ok()) {
    const auto code = records.status().code();
    if (code != mehdb::Code::kDataLoss && code != mehdb::Code::kInvalidArgument)
      mehdb_fuzz::Fail("unexpected error " + records.status().ToString());
    return 0;
  }
  std::string again;
  for (std::size_t i = 0; i < records->size(); ++i) {
    const mehdb::LogRecord& r = (*records)[i];
    if (r.seq == 0) mehdb_fuzz::Fail("a record with seq 0 decoded");
    if (i > 0 && r.seq != (*records)[i - 1].seq + 1)
      mehdb_fuzz::Fail("records are not consecutive");
    for (const mehdb::LogOp& op : r.ops) {
      if (op.key.empty() || op.key.size() > mehdb::kMaxKeyBytes)
        mehdb_fuzz::Fail("an op with a bad key length decoded");
    }
    mehdb::EncodeLogRecord(r, again);
  }
  if (again != bytes) mehdb_fuzz::Fail("re-encoding gives other bytes");
  return 0;
}
