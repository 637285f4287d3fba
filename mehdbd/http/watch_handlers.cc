// SPDX-License-Identifier: MIT
//
// GET /watch: the change log as a long-poll, on any replica (a follower's
// log holds the records it applied, with the leader's sequence numbers).
//
//   GET /watch?prefix=P&from=S[&wait=30s][&limit=1000][&values=false]
//
// answers the changes with seq >= S to keys starting with P, oldest first:
//
//   {"history":"<hex>","last_seq":12,"next":13,"events":[
//     {"seq":11,"op":"put","key":"user1","size":5,"value":"alice"},
//     {"seq":12,"op":"delete","key":"user2"}]}
//
// `next` is the `from` of the following call (every record before it was
// examined, matching or not). With nothing to answer yet the request parks
// on the store's SeqWatch queue, holding no worker, until a matching change
// commits or `wait` passes (then `events` is empty). A value that is not
// valid UTF-8 comes as "value_base64" (likewise "key_base64"); values=false
// sends sizes only. Without `from` the watch starts after the current last
// seq. A `from` older than the retained log, or a `history` that is not
// this replica's, answers 410 with the oldest retained seq (header
// X-Mehdb-Oldest-Seq and the JSON body): the client must re-list (GET
// /keys) and watch from the X-Mehdb-Applied-Seq of that listing + 1.
//
// Bounds: one answer carries at most `limit` events and about
// kMaxAnswerBytes of JSON (never splitting a record: a batch's ops share a
// seq), and examines at most kMaxScanBytes of log; watches are connections,
// so --max-connections bounds them.
#include <algorithm>
#include <string>

#include "base/base64.h"
#include "http/api.h"
#include "http/errors.h"
#include "http/key_list.h"
#include "base/units.h"

namespace mehdbd::http {
namespace {

constexpr std::uint64_t kDefaultLimit = 1000;
constexpr std::uint64_t kMaxLimit = 10000;
constexpr std::size_t kMaxAnswerBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxScanBytes = std::size_t{8} << 20;
constexpr std::chrono::milliseconds kDefaultWait = std::chrono::seconds(30);
constexpr std::chrono::milliseconds kMaxWait = std::chrono::minutes(5);

}  // namespace

struct WatchQuery {
  std::string prefix;
  mehdb::Seq from = 0;  // 0: after the current last seq
  std::string history;  // empty: any
  std::chrono::milliseconds wait = kDefaultWait;
  std::size_t limit = kDefaultLimit;
  bool values = true;
};

namespace {

// ,"name":"text" or ,"name_base64":"..." when `text` is not UTF-8.
void AppendBytesField(std::string& out, const char* name, std::string_view text) {
  out += ",\"";
  out += name;
  if (IsValidUtf8(text)) {
    out += "\":";
    AppendJsonString(out, text);
  } else {
    out += "_base64\":\"";
    out += Base64Encode(text);
    out += '"';
  }
}

void AppendEvent(std::string& out, mehdb::Seq seq, const mehdb::LogOp& op, bool values) {
  const bool put = op.kind == mehdb::LogOp::Kind::kPut;
  out += "{\"seq\":" + std::to_string(seq) + ",\"op\":\"" + (put ? "put" : "delete") + "\"";
  AppendBytesField(out, "key", op.key);
  if (put) {
    out += ",\"size\":" + std::to_string(op.value.size());
    if (values) AppendBytesField(out, "value", op.value);
  }
  out += '}';
}

std::optional<WatchQuery> ParseWatchQuery(const Request& req, std::string& error) {
  for (const char* name : {"prefix", "from", "history", "wait", "limit", "values"}) {
    if (req.get_param_value_count(name) > 1) {
      error = std::string(name) + " is given more than once";
      return std::nullopt;
    }
  }
  WatchQuery q;
  q.prefix = req.get_param_value("prefix");
  q.history = req.get_param_value("history");
  if (req.has_param("from")) {
    auto from = ParseCount(req.get_param_value("from"), 1, ~std::uint64_t{0} - 1);
    if (const auto* e = std::get_if<std::string>(&from)) {
      error = "from: " + *e + " (the first sequence number to answer)";
      return std::nullopt;
    }
    q.from = std::get<std::uint64_t>(from);
  }
  if (req.has_param("wait")) {
    auto wait = ParseDuration(req.get_param_value("wait"));
    if (const auto* e = std::get_if<std::string>(&wait)) {
      error = "wait: " + *e;
      return std::nullopt;
    }
    // Longer waits are cut to kMaxWait (documented), not refused.
    q.wait = std::min(std::get<std::chrono::milliseconds>(wait), kMaxWait);
  }
  if (req.has_param("limit")) {
    auto limit = ParseCount(req.get_param_value("limit"), 1, kMaxLimit);
    if (const auto* e = std::get_if<std::string>(&limit)) {
      error = "limit: " + *e;
      return std::nullopt;
    }
    q.limit = std::get<std::uint64_t>(limit);
  }
  if (req.has_param("values")) {
    auto values = ParseBool(req.get_param_value("values"));
    if (const auto* e = std::get_if<std::string>(&values)) {
      error = "values: " + *e;
      return std::nullopt;
    }
    q.values = std::get<bool>(values);
  }
  return q;
}

}  // namespace

void Api::Watch(const Request& req, Response& res) {
  std::string error;
  const auto query = ParseWatchQuery(req, error);
  if (!query) return AnswerText(res, 400, error);
  // A watch without `from` starts after the seq it first saw: fixed once,
  // so a parked watch that runs again does not skip what came meanwhile.
  const mehdb::Seq from = query->from != 0 ? query->from : store()->LastSeq() + 1;
  WatchFrom(req, res, *query, from);
}

void Api::WatchFrom(const Request& req, Response& res, const WatchQuery& query,
                    mehdb::Seq from) {
  const std::shared_ptr<mehdb::Store> store = this->store();
  const std::string history = store->History().ToHex();
  mehdb::Seq last = store->LastSeq();
  std::string events;
  mehdb::Seq next = from;
  std::size_t count = 0, scanned = 0;
  bool trimmed = !query.history.empty() && query.history != history;
  while (!trimmed && next <= last && count < query.limit && events.size() < kMaxAnswerBytes &&
         scanned < kMaxScanBytes) {
    auto chunk = store->ReadLog(next - 1, kMaxAnswerBytes);
    if (!chunk.ok() && chunk.status().code() == mehdb::Code::kOutOfRange) {
      trimmed = true;
      break;
    }
    if (!chunk.ok()) return AnswerStoreError(res, chunk.status(), "GET /watch");
    auto records = mehdb::DecodeLogBatch(chunk->frames);
    if (!records.ok()) return AnswerStoreError(res, records.status(), "GET /watch");
    scanned += chunk->frames.size();
    last = chunk->last_seq;
    if (records->empty()) break;
    for (const mehdb::LogRecord& record : *records) {
      if (record.seq != next) {  // the log must answer what was asked
        return AnswerStoreError(
            res, mehdb::Status(mehdb::Code::kDataLoss,
                                "change log out of order at seq " + std::to_string(next)),
            "GET /watch");
      }
      if (count >= query.limit || events.size() >= kMaxAnswerBytes) break;
      for (const mehdb::LogOp& op : record.ops) {
        if (!op.key.starts_with(query.prefix)) continue;
        if (count > 0) events += ',';
        AppendEvent(events, record.seq, op, query.values);
        ++count;
      }
      next = record.seq + 1;
    }
  }
  if (trimmed) {
    const auto stats = store->GetStats();
    const mehdb::Seq oldest = stats.ok() ? stats->first_log_seq : last + 1;
    SetAppliedSeq(res, last);
    res.status = 410;
    res.set_header("X-Mehdb-Oldest-Seq", std::to_string(oldest));
    std::string body = "{\"error\":";
    AppendJsonString(body, query.history.empty() || query.history == history
                               ? "from " + std::to_string(from) +
                                     " is older than the retained change log: re-list, "
                                     "then watch from the listing's seq + 1"
                               : "history " + query.history + " is not this replica's (" +
                                     history + "): re-list, then watch again");
    body += ",\"oldest_seq\":" + std::to_string(oldest) + ",\"last_seq\":" +
            std::to_string(last) + ",\"history\":\"" + history + "\"}\n";
    res.set_content(std::move(body), "application/json");
    return;
  }
  // Nothing matched and the log is exhausted: wait for the next commit
  // without a worker, then look again from `next` (kept: the records up to
  // it did not match).
  const auto deadline = req.received + query.wait;
  if (count == 0 && next > last && seq_queue_ != nullptr &&
      std::chrono::steady_clock::now() < deadline) {
    res.Park(seq_queue_, deadline, [this, &req, query, next](Response& again, bool final) {
      again = Response();
      WatchQuery rest = query;
      if (final) rest.wait = std::chrono::milliseconds(0);
      WatchFrom(req, again, rest, next);
    });
    return;
  }
  SetAppliedSeq(res, last);
  std::string body = "{\"history\":\"" + history + "\",\"last_seq\":" + std::to_string(last) +
                     ",\"next\":" + std::to_string(next) + ",\"events\":[" + events + "]}\n";
  res.set_content(std::move(body), "application/json");
}

}  // namespace mehdbd::http
