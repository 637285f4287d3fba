// SPDX-License-Identifier: MIT
//
// The change-log record codec (format in mehdb/replication.h). The store
// keeps each record in its framed form, so a leader ships stored bytes as
// they are and only the follower decodes.
#include <mehdb/replication.h>

#include "log_codec.h"

#include "codec.h"

namespace mehdb {

using internal::Reader;

void internal::EncodeLogFrame(Seq seq, std::uint64_t time_ns,
                              std::span<const LogOp> ops, std::string& out) {
  std::string payload;
  std::size_t size = 20;
  for (const LogOp& op : ops) size += 9 + op.key.size() + op.value.size();
  payload.reserve(size);
  internal::PutU64(payload, seq);
  internal::PutU64(payload, time_ns);
  internal::PutU32(payload, static_cast<std::uint32_t>(ops.size()));
  for (const LogOp& op : ops) {
    internal::PutU8(payload, static_cast<std::uint8_t>(op.kind));
    internal::PutU32(payload, static_cast<std::uint32_t>(op.key.size()));
    payload.append(op.key);
    internal::PutU32(payload, static_cast<std::uint32_t>(op.value.size()));
    payload.append(op.value);
  }
  internal::AppendFrame(out, payload);
}

void EncodeLogRecord(const LogRecord& record, std::string& out) {
  internal::EncodeLogFrame(record.seq, record.commit_time_ns, record.ops, out);
}

namespace {

Status Corrupt(const char* what) {
  return Status(Code::kDataLoss, std::string("log batch: ") + what);
}

Result<LogRecord> DecodeRecord(std::string_view payload) {
  Reader r(payload);
  LogRecord rec;
  std::uint32_t count = 0;
  if (!r.U64(rec.seq) || !r.U64(rec.commit_time_ns) || !r.U32(count))
    return Corrupt("short record header");
  // Each op takes at least 9 bytes: a count larger than that allows is a lie.
  if (count > r.remaining() / 9) return Corrupt("op count exceeds record size");
  rec.ops.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint8_t kind = 0;
    std::string_view key, value;
    if (!r.U8(kind) || !r.LengthPrefixed(key) || !r.LengthPrefixed(value))
      return Corrupt("short op");
    if (kind != static_cast<std::uint8_t>(LogOp::Kind::kPut) &&
        kind != static_cast<std::uint8_t>(LogOp::Kind::kErase))
      return Corrupt("unknown op kind");
    if (key.empty() || key.size() > 511) return Corrupt("bad key length");
    // Our encoder never writes one: a value on an erase is a forged or
    // damaged record, not something to drop silently.
    if (kind == static_cast<std::uint8_t>(LogOp::Kind::kErase) && !value.empty())
      return Corrupt("erase op carries a value");
    rec.ops.push_back({static_cast<LogOp::Kind>(kind), std::string(key),
                       std::string(value)});
  }
  if (!r.empty()) return Corrupt("trailing bytes in record");
  if (rec.seq == 0) return Corrupt("record with seq 0");
  return rec;
}

}  // namespace

Result<std::vector<LogRecord>> DecodeLogBatch(std::string_view bytes) {
  std::vector<LogRecord> records;
  while (!bytes.empty()) {
    std::string_view payload;
    std::size_t consumed = 0;
    switch (internal::NextFrame(bytes, payload, consumed)) {
      case internal::FrameResult::kNeedMore: return Corrupt("cut frame");
      case internal::FrameResult::kCorrupt: return Corrupt("bad frame checksum or length");
      case internal::FrameResult::kOk: break;
    }
    Result<LogRecord> rec = DecodeRecord(payload);
    if (!rec.ok()) return rec.status();
    if (!records.empty() && rec->seq != records.back().seq + 1)
      return Status(Code::kInvalidArgument,
                    "log batch: records are not consecutive (gap or duplicate)");
    records.push_back(std::move(*rec));
    bytes.remove_prefix(consumed);
  }
  return records;
}

}  // namespace mehdb
