// SPDX-License-Identifier: MIT
//
// Byte-level encoding shared by the store and the replication codecs:
// big-endian integers (so LMDB's byte order of log keys is seq order on any
// host), the frame layout (u32 len | u32 crc32c | payload) and the stored
// value layout (u64 version | u32 crc32c | bytes).
#ifndef MEHDB_SRC_CODEC_H_
#define MEHDB_SRC_CODEC_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace mehdb::internal {

void PutU8(std::string& out, std::uint8_t v);
void PutU32(std::string& out, std::uint32_t v);
void PutU64(std::string& out, std::uint64_t v);

// Inline: every stored value's version and every log key goes through these
// on the scan and read paths, where an out-of-line byte loop cost as much as
// LMDB's own cursor step.
inline std::uint64_t LoadU64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

inline std::uint32_t LoadU32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  return v;
}

// Reads fields off the front of a buffer; every getter fails (returns false
// and leaves the reader failed) instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U8(std::uint8_t& v);
  bool U32(std::uint32_t& v);
  bool U64(std::uint64_t& v);
  bool Bytes(std::size_t n, std::string_view& v);
  // A u32 length followed by that many bytes.
  bool LengthPrefixed(std::string_view& v);
  bool empty() const { return data_.empty(); }
  std::size_t remaining() const { return data_.size(); }

 private:
  std::string_view data_;
};

constexpr std::size_t kFrameHeaderBytes = 8;
// Frames larger than this are garbage, not data: the biggest legitimate one
// is a batch of values each at most Options::max_value_bytes, which we cap.
constexpr std::uint32_t kMaxFrameBytes = 1u << 30;

// Appends u32 len | u32 crc | payload.
void AppendFrame(std::string& out, std::string_view payload);

enum class FrameResult { kOk, kNeedMore, kCorrupt };
// Splits one frame off the front of `data`. On kOk sets `payload` and
// `consumed` (header + payload bytes).
FrameResult NextFrame(std::string_view data, std::string_view& payload,
                      std::size_t& consumed);

// Stored values (store format 2): u64 version | u32 crc32c | bytes, the
// checksum over the key, the version's 8 bytes and the value bytes, so a
// flipped bit anywhere in an entry, or a value read under the wrong key, is
// caught when the value is read. Format 1 had no checksum (see Migrate).
constexpr std::size_t kVersionBytes = 8;
constexpr std::size_t kValueHeaderBytes = 12;
constexpr std::size_t kV1ValueHeaderBytes = 8;

std::uint32_t StoredValueCrc(std::string_view key, std::string_view version_bytes,
                             std::string_view value);
// Writes the stored form of (version, value) into dst, which has room for
// kValueHeaderBytes + value.size() (an MDB_RESERVE'd slot).
void WriteStoredValue(char* dst, std::string_view key, std::uint64_t version,
                      std::string_view value);
// Whether `stored` (at least kValueHeaderBytes long) matches its checksum.
bool StoredValueIntact(std::string_view key, std::string_view stored);

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_CODEC_H_
