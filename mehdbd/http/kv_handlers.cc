// SPDX-License-Identifier: MIT
//
// The key routes: PUT and DELETE on /set/{key}, GET and HEAD on /get/{key}.
// Writes stay on /set/ (DELETE included) so that everything a follower must
// redirect lives under one prefix and /get/ is read-only on every replica.
// Every write answer carries X-Mehdb-Seq (its sequence number); reads carry
// X-Mehdb-Applied-Seq and the value's ETag.
#include <string>

#include "http/api.h"
#include "http/body_reader.h"
#include "http/errors.h"
#include "http/request_context.h"

namespace mehdbd::http {
namespace {

void AnswerPreconditionFailed(httplib::Response& res) {
  AnswerText(res, 412, "precondition failed");
}

std::string What(std::string_view method, const Target& target) {
  return std::string(method) + " /set/" + target.key;
}

}  // namespace

bool Api::AnswerSet(const httplib::Request& req, httplib::Response& res,
                    const Target& target, bool read_body) {
  if (identity_.role == Role::kFollower && follower_ != nullptr &&
      follower_->LeaderOutOfReach()) {
    // A 307 would send the client to a leader this follower cannot reach
    // either (restarting, say): tell it to come back instead.
    res.set_header("Retry-After", "5");
    AnswerText(res, 503,
               "the leader is out of reach; this follower serves reads only: retry the "
               "write in a few seconds");
    return true;
  }
  if (identity_.role == Role::kFollower) {
    // Followers never write client data: the leader's URL for the same
    // path. The key passed the key rule, so it needs no re-encoding.
    std::string path = "/set/" + PercentEncode(target.key);
    if (!target.query.empty()) path += "?" + std::string(target.query);
    RedirectToLeader(res, path);
    return true;
  }
  // Every parameter is checked before anything is written.
  std::string error;
  const auto pre = ParsePreconditions(req, error);
  auto plan = pre ? PlanWrite(*pre, error) : std::nullopt;
  const auto acks = plan ? ParseAckWait(req, error) : std::nullopt;
  if (!plan || !acks) {
    AnswerText(res, 400, error);
    return true;
  }
  plan->acks = *acks;
  if (req.method == "DELETE") {
    Delete(res, target, *plan);
    return true;
  }
  if (plan->never) {
    AnswerPreconditionFailed(res);
    return true;
  }
  if (req.get_header_value<std::uint64_t>("Content-Length") >
      options_.max_value_bytes) {
    AnswerText(res, 413,
               "value too large: the limit is " +
                   std::to_string(options_.max_value_bytes) + " bytes");
    return true;
  }
  if (!HasBody(req)) {
    Write(res, target, *plan, {});  // no body: an empty value, as before
    return true;
  }
  if (!read_body) return false;  // Expect: 100-continue: let the body come
  ReadAndWrite(req, res, target, *plan);
  return true;
}

void Api::ReadAndWrite(const httplib::Request& req, httplib::Response& res,
                       const Target& target, const WritePlan& plan) {
  RequestContext& ctx = CurrentRequest();
  if (ctx.stream == nullptr) {  // only ServeConnection runs requests
    AnswerText(res, 500, "internal error: no connection stream");
    return;
  }
  std::string value;
  const BodyResult result =
      ReadBody(*ctx.stream, req, options_.max_value_bytes, value);
  switch (result) {
    case BodyResult::kOk:
      ctx.body_consumed = true;
      Write(res, target, plan, value);
      return;
    case BodyResult::kTooLarge:
      AnswerText(res, 413,
                 "value too large: the limit is " +
                     std::to_string(options_.max_value_bytes) + " bytes");
      return;
    case BodyResult::kUnsupported:
      AnswerText(res, 501, "only chunked Transfer-Encoding is supported");
      return;
    case BodyResult::kBroken:
      AnswerText(res, 400, "request body ended early or is malformed");
      return;
  }
}

void Api::Write(httplib::Response& res, const Target& target,
                const WritePlan& plan, std::string_view value) {
  // A conditional write is a batch so the version check and the write
  // commit in one transaction; a plain one takes the shorter path.
  auto seq = [&]() -> mehdb::Result<mehdb::Seq> {
    if (!plan.conditional) return store()->Put(target.key, value);
    mehdb::Batch batch;
    batch.Expect(target.key, plan.expect).Put(target.key, value);
    return store()->Write(batch);
  }();
  if (!seq.ok()) {
    if (seq.status().code() == mehdb::Code::kValueTooLarge) {
      AnswerText(res, 413,
                 "value too large: the limit is " +
                     std::to_string(options_.max_value_bytes) + " bytes");
      return;
    }
    AnswerStoreError(res, seq.status(), What("PUT", target));
    return;
  }
  res.status = 200;
  res.set_header("X-Mehdb-Seq", std::to_string(*seq));
  res.set_header("ETag", FormatETag(*seq));
  AwaitAcks(plan.acks, res, *seq);
  // The original's exact answer.
  res.set_content("WRITE completed", "text/plain; charset=utf-8");
}

void Api::Delete(httplib::Response& res, const Target& target,
                 const WritePlan& plan) {
  if (plan.never) {
    AnswerPreconditionFailed(res);
    return;
  }
  // Without a condition the key must exist, so a missing key is a 404 and
  // costs no write (and no sequence number).
  mehdb::Batch batch;
  batch
      .Expect(target.key,
              plan.conditional ? plan.expect : mehdb::Batch::kPresent)
      .Erase(target.key);
  mehdb::Result<mehdb::Seq> seq = store()->Write(batch);
  if (!seq.ok()) {
    if (seq.status().code() == mehdb::Code::kAborted) {
      if (plan.conditional)
        AnswerPreconditionFailed(res);
      else
        AnswerText(res, 404, "");
      return;
    }
    AnswerStoreError(res, seq.status(), What("DELETE", target));
    return;
  }
  res.status = 204;
  res.set_header("X-Mehdb-Seq", std::to_string(*seq));
  AwaitAcks(plan.acks, res, *seq);
}

void Api::GetValue(const httplib::Request& req, httplib::Response& res,
                   const Target& target) {
  std::string error;
  const auto pre = ParsePreconditions(req, error);
  if (!pre) {
    AnswerText(res, 400, error);
    return;
  }
  if (!AwaitSeq(req, res)) return;
  // Read the applied seq first: the value below reflects at least it.
  SetAppliedSeq(res, store()->LastSeq());
  auto value = store()->Get(target.key);
  if (!value.ok()) {
    AnswerStoreError(res, value.status(), "GET /get/" + target.key);
    return;
  }
  const std::optional<mehdb::Value>& found = *value;
  const int outcome =
      ReadOutcome(*pre, found ? std::optional(found->version) : std::nullopt);
  if (outcome == 412) {
    AnswerPreconditionFailed(res);
    return;
  }
  if (!found) {
    AnswerText(res, 404, "");  // the original's body: just "\n"
    return;
  }
  res.set_header("ETag", FormatETag(found->version));
  if (outcome == 304) {
    res.status = 304;
    return;
  }
  res.status = 200;
  // Served as opaque bytes: the original sniffed a type, so a value that
  // looked like HTML was served as text/html (stored XSS).
  res.set_header("Content-Type", "application/octet-stream");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.body = std::move((*value)->data);
}

}  // namespace mehdbd::http
