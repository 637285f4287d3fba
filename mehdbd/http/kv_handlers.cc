// SPDX-License-Identifier: MIT
//
// The key routes: PUT and DELETE on /set/{key}, GET and HEAD on /get/{key}.
// Writes stay on /set/ (DELETE included) so that everything a follower must
// redirect lives under one prefix and /get/ is read-only on every replica.
// Every write answer carries X-Mehdb-Seq (its sequence number); reads carry
// X-Mehdb-Applied-Seq and the value's ETag.
#include <string>

#include "http/api.h"
#include "http/errors.h"

namespace mehdbd::http {
namespace {

void AnswerPreconditionFailed(Response& res) {
  AnswerText(res, 412, "precondition failed");
}

}  // namespace

void Api::Write(Response& res, const Target& target,
                const WritePlan& plan, std::string_view value) {
  // A conditional write carries its version check in the batch, so the
  // check and the write commit together.
  mehdb::Batch batch;
  if (plan.conditional) batch.Expect(target.key, plan.expect);
  batch.Put(target.key, value);
  // The write waits for its group's sync on the store's thread, not on the
  // connection's loop: the answer is filled in there (AnswerWrite) and goes
  // back to the loop.
  auto complete = res.Defer();
  store()->WriteAsync(std::move(batch),
                      [this, &res, key = target.key, acks = plan.acks,
                       complete](const mehdb::Result<mehdb::Seq>& seq) {
                        AnswerWrite(res, key, acks, seq);
                        complete();
                      });
}

void Api::AnswerWrite(Response& res, const std::string& key, const AckWait& acks,
                      const mehdb::Result<mehdb::Seq>& seq) {
  if (!seq.ok()) {
    if (seq.status().code() == mehdb::Code::kValueTooLarge) {
      AnswerText(res, 413,
                 "value too large: the limit is " +
                     std::to_string(options_.max_value_bytes) + " bytes");
      return;
    }
    AnswerStoreError(res, seq.status(), "PUT /set/" + key);
    return;
  }
  res.status = 200;
  res.set_header("X-Mehdb-Seq", std::to_string(*seq));
  res.set_header("ETag", FormatETag(*seq));
  AwaitAcks(acks, res, *seq);
  // The original's exact answer.
  res.set_content("WRITE completed", "text/plain; charset=utf-8");
}

void Api::Delete(Response& res, const Target& target,
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
  // Like a PUT, answered from the store's thread.
  auto complete = res.Defer();
  store()->WriteAsync(std::move(batch),
                      [this, &res, key = target.key, plan,
                       complete](const mehdb::Result<mehdb::Seq>& seq) {
                        AnswerDelete(res, key, plan, seq);
                        complete();
                      });
}

void Api::AnswerDelete(Response& res, const std::string& key, const WritePlan& plan,
                       const mehdb::Result<mehdb::Seq>& seq) {
  if (!seq.ok()) {
    if (seq.status().code() == mehdb::Code::kAborted) {
      if (plan.conditional)
        AnswerPreconditionFailed(res);
      else
        AnswerText(res, 404, "");
      return;
    }
    AnswerStoreError(res, seq.status(), "DELETE /set/" + key);
    return;
  }
  res.status = 204;
  res.set_header("X-Mehdb-Seq", std::to_string(*seq));
  AwaitAcks(plan.acks, res, *seq);
}

void Api::GetValue(const Request& req, Response& res,
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
