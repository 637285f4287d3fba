// SPDX-License-Identifier: MIT
//
// GET /keys and GET /status, and the min_seq wait that every read honours.
//
// /keys with no paging parameters answers exactly what the original did: a
// compact JSON array of every key and "\n". With `limit` it answers one page
// and, when more keys follow, a Link header to the next page (RFC 8288),
// keeping the body the same shape for every caller:
//   GET /keys?prefix=user&limit=2
//   ["user1","user2"]             Link:
//   </keys?prefix=user&after=user2&limit=2>; rel="next"
#include <memory>
#include <string>

#include "http/api.h"
#include "http/errors.h"
#include "http/key_list.h"
#include "base/units.h"

namespace mehdbd::http {
namespace {

constexpr std::size_t kMaxPageLimit = 10000;
constexpr std::size_t kStreamPageKeys = 4096;

}  // namespace

bool Api::AwaitSeq(const net::Request& req, net::Response& res) {
  std::string error;
  const mehdb::Seq wanted = ParseMinSeq(req, error);
  if (!error.empty()) {
    AnswerText(res, 400, error);
    return false;
  }
  if (wanted == 0 || store()->LastSeq() >= wanted) return true;
  const auto deadline = req.received + options_.max_seq_wait;
  if (seq_queue_ != nullptr) {
    if (std::chrono::steady_clock::now() < deadline) {
      // Parked without a worker until the store moves (SeqWatch) or the
      // deadline; then the whole read runs again.
      res.Park(seq_queue_, deadline, [this, &req, wanted](net::Response& again, bool final) {
        again = net::Response();
        if (final && store()->LastSeq() < wanted) return AnswerSeqNotReached(req, again, wanted);
        Serve(req, again);
      });
      return false;
    }
  } else {
    // No watch (a server that is not running, e.g. the fuzzer's): wait here.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() > 0 && store()->WaitForSeq(wanted, left) >= wanted) return true;
  }
  AnswerSeqNotReached(req, res, wanted);
  return false;
}

void Api::AnswerSeqNotReached(const net::Request& req, net::Response& res, mehdb::Seq wanted) {
  const mehdb::Seq applied = store()->LastSeq();
  SetAppliedSeq(res, applied);
  if (identity_.role == Role::kFollower) {
    // The leader has every acknowledged write: ask it instead.
    RedirectToLeader(res, req.target);
    return;
  }
  res.set_header("Retry-After", "1");
  AnswerText(res, 503,
             "sequence " + std::to_string(wanted) +
                 " not reached: this replica is at " + std::to_string(applied));
}

void Api::ListKeys(const net::Request& req, net::Response& res) {
  if (!AwaitSeq(req, res)) return;
  SetAppliedSeq(res, store()->LastSeq());
  KeyCursor cursor;
  if (req.has_param("prefix")) cursor.prefix = req.get_param_value("prefix");
  if (req.has_param("after")) cursor.after = req.get_param_value("after");
  res.status = 200;
  if (req.has_param("limit")) {
    auto limit = ParseCount(req.get_param_value("limit"), 1, kMaxPageLimit);
    if (auto* e = std::get_if<std::string>(&limit)) {
      AnswerText(res, 400, "limit: " + *e);
      return;
    }
    const std::size_t n = std::get<std::uint64_t>(limit);
    std::string body = "[";
    if (auto s = AppendKeyPage(*store(), n, cursor, body); !s.ok()) {
      AnswerStoreError(res, s, "GET /keys");
      return;
    }
    body += "]\n";
    if (!cursor.done) {
      res.set_header("Link", "</keys?prefix=" + PercentEncode(cursor.prefix) +
                                 "&after=" + PercentEncode(cursor.after) +
                                 "&limit=" + std::to_string(n) +
                                 ">; rel=\"next\"");
    }
    res.set_content(body, "application/json");
    return;
  }
  auto count = store()->Count();
  if (!count.ok()) {
    AnswerStoreError(res, count.status(), "GET /keys");
    return;
  }
  if (*count <= options_.list_buffer_keys) {
    std::string body = "[";
    while (!cursor.done) {
      if (auto s = AppendKeyPage(*store(), kStreamPageKeys, cursor, body);
          !s.ok()) {
        AnswerStoreError(res, s, "GET /keys");
        return;
      }
    }
    body += "]\n";
    res.set_content(body, "application/json");
    return;
  }
  // A big store: one page per chunk, each page its own read transaction, so
  // neither memory nor a reader's snapshot grows with the store. The listing
  // is therefore not one snapshot: keys written meanwhile may or may not
  // appear, but every key present throughout appears exactly once.
  auto state = std::make_shared<KeyCursor>(std::move(cursor));
  // The listing keeps its store alive even if a snapshot replaces it.
  std::shared_ptr<mehdb::Store> store_ptr = store();
  res.set_chunked_content_provider(
      "application/json",
      [state, store_ptr](net::Sink& sink) {
        const mehdb::Store& store = *store_ptr;
        std::string chunk = state->first ? "[" : "";
        if (auto s = AppendKeyPage(store, kStreamPageKeys, *state, chunk);
            !s.ok()) {
          LogStoreFailure("GET /keys (streaming)", s);
          return false;  // cuts the response: the client sees an error
        }
        if (state->done) chunk += "]\n";
        if (!chunk.empty() && !sink.write(chunk.data(), chunk.size()))
          return false;
        if (state->done) sink.done();
        return true;
      });
}

void Api::Status(const net::Request& req, net::Response& res) {
  if (!AwaitSeq(req, res)) return;
  SetAppliedSeq(res, store()->LastSeq());
  // The body is fixed by the original API; a follower's sync state (e.g.
  // history-mismatch, when it refuses its leader) rides in a header.
  if (follower_ != nullptr) res.set_header("X-Mehdb-Follower-State", follower_->Status().state);
  // Only the exact, case-sensitive level=full asks for the count.
  if (req.has_param("level") && req.get_param_value("level") == "full") {
    auto count = store()->Count();  // O(1): LMDB keeps the entry count
    if (!count.ok()) {
      AnswerStoreError(res, count.status(), "GET /status?level=full");
      return;
    }
    res.set_content(std::to_string(*count) + "\n", "text/plain; charset=utf-8");
    return;
  }
  res.set_content(std::string(identity_.StatusWord()),
                  "text/plain; charset=utf-8");
}

}  // namespace mehdbd::http
