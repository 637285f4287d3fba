// SPDX-License-Identifier: MIT
//
// Operational routes: /healthz (the process answers: liveness), /readyz
// (the store answers and we are not shutting down: readiness), /metrics
// (Prometheus text) and /backup (a consistent copy of the store, streamed).
// With --auth-token-file, /backup needs the token and the other three stay
// open for probes and scrapers (auth/authenticator.h).
#include <memory>
#include <string>

#include "http/api.h"
#include "http/backup_stream.h"
#include "http/errors.h"
#include "http/process_metrics.h"
#include "http/replication_metrics.h"

namespace mehdbd::http {

void Api::Healthz(net::Response& res) {
  // Deliberately touches nothing but the process: a liveness probe that
  // failed on a slow disk would restart a pod that only needs time.
  res.set_content("ok\n", "text/plain; charset=utf-8");
}

void Api::Readyz(net::Response& res) {
  if (draining_.load(std::memory_order_relaxed)) {
    AnswerText(res, 503, "shutting down");
    return;
  }
  if (recovery_ != nullptr && recovery_->Active()) {
    AnswerText(res, 503, "not ready: recovering the data from the followers (empty store)");
    return;
  }
  // A read transaction proves the store is open and has reader slots free.
  auto count = store()->Count();
  if (!count.ok()) {
    AnswerStoreError(res, count.status(), "GET /readyz");
    return;
  }
  // A follower is ready only in contact with its leader and caught up
  // within the lag bound; a leader never depends on its followers.
  if (follower_ != nullptr) {
    const auto status = follower_->Status();
    if (!status.ready) {
      AnswerText(res, 503, "not ready: " + status.not_ready_reason);
      return;
    }
  }
  res.set_content("ready\n", "text/plain; charset=utf-8");
}

void Api::MetricsText(net::Response& res) {
  auto stats = store()->GetStats();
  if (!stats.ok())
    LogStoreFailure("GET /metrics (store stats)", stats.status());
  std::string text = metrics_.Render(stats.ok() ? &*stats : nullptr, identity_);
  if (follower_ != nullptr) RenderFollowerMetrics(follower_->Status(), text);
  if (acks_ != nullptr)
    RenderLeaderMetrics(acks_->Snapshot(), replication::AckTable::Clock::now(), text);
  if (auth_ != nullptr) text += auth_->RenderMetrics();
  if (front_end_ != nullptr) RenderFrontEndMetrics(front_end_->Stats(), text);
  if (const auto process = SampleProcess()) RenderProcessMetrics(*process, text);
  res.set_content(std::move(text), "text/plain; version=0.0.4; charset=utf-8");
}

void Api::Backup(const net::Request& req, net::Response& res) {
  res.status = 200;
  SetAppliedSeq(res, store()->LastSeq());  // the copy holds at least this
  // The compacted copy is at most the pages in use: a progress estimate.
  if (auto stats = store()->GetStats(); stats.ok()) {
    res.set_header("X-Mehdb-Size-Estimate", std::to_string(stats->used_bytes));
  }
  res.set_header("Content-Disposition", "attachment; filename=\"data.mdb\"");
  if (req.method == "HEAD") {
    res.set_header("Content-Type", "application/octet-stream");
    return;  // no copy for a HEAD
  }
  auto stream = std::make_shared<BackupStream>(store());
  auto buffer = std::make_shared<std::string>(std::size_t{256} << 10, '\0');
  res.set_chunked_content_provider(
      "application/octet-stream",
      [stream, buffer](net::Sink& sink) {
        const ssize_t n = stream->Read(buffer->data(), buffer->size());
        if (n < 0) return false;  // cut the response: the copy is not whole
        if (n == 0) {
          sink.done();
          return true;
        }
        return sink.write(buffer->data(), static_cast<std::size_t>(n));
      });
}

}  // namespace mehdbd::http
