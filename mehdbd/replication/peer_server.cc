// SPDX-License-Identifier: MIT
#include "replication/peer_server.h"

#include <pthread.h>

#include <charconv>
#include <optional>

#include "base/log.h"
#include "replication/protocol.h"

namespace mehdbd::replication {
namespace {

bool ParseU64(const std::string& s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

void PositionHeaders(net::Response& res, const mehdb::HistoryId& history,
                     mehdb::Seq first, mehdb::Seq last) {
  res.set_header(kHistoryHeader, history.ToHex());
  res.set_header(kFirstSeqHeader, std::to_string(first));
  res.set_header(kLastSeqHeader, std::to_string(last));
}

void Refuse(net::Response& res, int status, const char* reason, const std::string& text) {
  res.status = status;
  res.set_header(kReasonHeader, reason);
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

// While a leader recovers its data (leader_recovery.h): come back shortly.
void Recovering(net::Response& res) {
  res.set_header("Retry-After", "1");
  Refuse(res, 503, kReasonRecovering,
         "the leader started on an empty store and is recovering its data from its followers");
}

// A poll may legitimately wait max_wait before its answer is written; a
// follower polls over one connection for as long as it lives, so the
// request limit is practically unbounded.
net::ConnectionLimits PeerLimits() {
  using std::chrono::seconds;
  net::ConnectionLimits l;
  l.idle_timeout = seconds(30);
  l.head_timeout = seconds(5);
  l.body_timeout = seconds(5);
  l.tls_handshake_timeout = seconds(5);
  l.write_timeout = seconds(30);
  l.max_requests = std::size_t{1} << 30;
  l.max_body_bytes = 0;  // peer requests carry no body
  return l;
}

}  // namespace

class PeerServer::Service final : public net::Service {
 public:
  explicit Service(PeerServer& server) : server_(server) {}

  Admission Admit(net::Request& req, net::Response& res) override {
    // Authentication before anything else, for every request.
    if (server_.auth_ != nullptr &&
        !server_.auth_->Admit(req, res, auth::Access::kProtected, auth::Listener::kPeer))
      return Admission::kAnswered;
    if ((req.path != kLogPath || !server_.options_.serve_log) && req.path != kSnapshotPath) {
      Refuse(res, 404, "not-found", "404 page not found");
      return Admission::kAnswered;
    }
    if (req.method != "GET") {
      res.set_header("Allow", "GET");
      Refuse(res, 405, "bad-request", "405 method not allowed");
      return Admission::kAnswered;
    }
    return Admission::kHandle;
  }

  void Handle(net::Request& req, net::Response& res) override {
    if (req.path == kLogPath) return server_.Log(req, res);
    server_.Snapshot(req, res);
  }

 private:
  PeerServer& server_;
};

PeerServer::PeerServer(StoreHandle& stores, AckTable& acks, PeerServerOptions options)
    : stores_(stores),
      acks_(acks),
      options_(options),
      service_(std::make_unique<Service>(*this)),
      front_end_(net::FrontEndOptions{1, 1024, std::size_t{1} << 20, "mehdbd-peer"}) {}

PeerServer::~PeerServer() { Stop(); }

int PeerServer::Bind(const std::string& host, int port, std::string& error) {
  net::ListenerOptions o;
  o.name = "peer";
  o.host = host;
  o.port = port;
  o.service = service_.get();
  o.tls = options_.tls;
  o.limits = PeerLimits();
  o.workers = options_.threads;
  const int bound = front_end_.Listen(o, error);
  if (bound < 0) error = "cannot listen for peers on " + host + ":" + std::to_string(port) +
                         ": " + error;
  return bound;
}

void PeerServer::Start() {
  seq_watch_ = std::make_unique<SeqWatch>(stores_);
  thread_ = std::thread([this] { front_end_.Run(); });
  ::pthread_setname_np(thread_.native_handle(), "mehdbd-peer");  // waits for its loop
}

void PeerServer::Stop() {
  if (stopping_.exchange(true)) return;
  // Parked polls are answered at once (an empty batch), then the loops end.
  front_end_.Stop();
  if (thread_.joinable()) thread_.join();
  seq_watch_.reset();
}

void PeerServer::Log(const net::Request& req, net::Response& res, bool no_wait) {
  std::uint64_t from = 0, max_bytes = options_.max_batch_bytes, wait_ms = 0;
  if (!ParseU64(req.get_param_value("from"), from) || from == 0)
    return Refuse(res, 400, "bad-request", "from must be a sequence number >= 1");
  if (req.has_param("max_bytes") && !ParseU64(req.get_param_value("max_bytes"), max_bytes))
    return Refuse(res, 400, "bad-request", "max_bytes must be a number");
  if (req.has_param("wait_ms") && !ParseU64(req.get_param_value("wait_ms"), wait_ms))
    return Refuse(res, 400, "bad-request", "wait_ms must be a number");
  max_bytes = std::clamp<std::uint64_t>(max_bytes, 1, options_.max_batch_bytes);
  const auto wait = no_wait ? std::chrono::milliseconds(0)
                            : std::min(std::chrono::milliseconds(wait_ms), options_.max_wait);
  const std::string history = req.get_param_value("history");
  if (history.empty() && from != 1)
    return Refuse(res, 400, "bad-request", "history is required after the first record");

  if (recovery_ != nullptr && recovery_->Active()) {
    recovery_->Offer(req.get_header_value(kFollowerHeader), history, from - 1,
                     req.get_header_value(kPeerUrlHeader));
    return Recovering(res);
  }
  auto store = stores_.Current();
  const mehdb::HistoryId mine = store->History();
  if (!history.empty() && history != mine.ToHex()) {
    PositionHeaders(res, mine, 0, store->LastSeq());
    return Refuse(res, 409, kReasonHistory,
                  "history mismatch: the leader's history is " + mine.ToHex());
  }
  // A follower past our last seq holds writes we do not have (we lost them,
  // or were restored): refused before anything of its claim is believed.
  if (const mehdb::Seq last = store->LastSeq(); from - 1 > last) {
    PositionHeaders(res, mine, 0, last);
    return Refuse(res, 409, kReasonAhead,
                  "the follower is ahead of the leader (" + std::to_string(from - 1) + " > " +
                      std::to_string(last) + ")");
  }
  // Accepted (authenticated before routing, same history, not ahead): only
  // now does from=S count as the follower's ack of S-1 (acks=N on writes).
  const std::string follower = req.get_header_value(kFollowerHeader);
  std::shared_ptr<PollScope> poll;
  if (!follower.empty()) poll = std::make_shared<PollScope>(acks_, follower, from - 1);

  // Long-poll: nothing new yet, so park (bounded) until the next commit,
  // holding no worker (SeqWatch wakes it); the poll then runs again and
  // answers what arrived, or an empty batch at the deadline.
  if (from == store->LastSeq() + 1 && wait.count() > 0 && seq_watch_ != nullptr) {
    const auto deadline = req.received + wait;
    if (std::chrono::steady_clock::now() < deadline) {
      res.Park(seq_watch_->queue(), deadline,
               [this, &req, poll](net::Response& again, bool final) {  // poll: open while parked
                 again = net::Response();
                 Log(req, again, final);
               });
      return;
    }
  } else if (from == store->LastSeq() + 1 && wait.count() > 0) {
    store->WaitForSeq(from, wait);  // not started: no watch to park on
  }

  auto chunk = store->ReadLog(from - 1, max_bytes);
  if (!chunk.ok()) {
    const mehdb::Seq last = store->LastSeq();
    PositionHeaders(res, mine, 0, last);
    if (chunk.status().code() == mehdb::Code::kOutOfRange)
      return Refuse(res, 410, kReasonTrimmed, chunk.status().message());
    LogError("reading the log for " + follower + ": " + chunk.status().ToString());
    return Refuse(res, 500, "store-error", chunk.status().ToString());
  }
  PositionHeaders(res, chunk->history, chunk->first_seq, chunk->last_seq);
  res.set_header(kFromHeader, std::to_string(chunk->from));
  res.set_header(kToHeader, std::to_string(chunk->to));
  res.set_content(std::move(chunk->frames), "application/octet-stream");
}

void PeerServer::Snapshot(const net::Request& req, net::Response& res) {
  if (recovery_ != nullptr && recovery_->Active()) return Recovering(res);
  auto store = stores_.Current();
  const std::string follower = req.get_header_value(kFollowerHeader);
  LogInfo("streaming a snapshot at seq " + std::to_string(store->LastSeq()) + " to " +
          (follower.empty() ? std::string("a peer") : follower));
  res.set_header(kHistoryHeader, store->History().ToHex());
  res.set_chunked_content_provider(
      "application/octet-stream",
      [store](net::Sink& sink) {
        mehdb::Status s = store->ExportSnapshot([&](std::string_view chunk) {
          return sink.write(chunk.data(), chunk.size());
        });
        // A failed export ends the stream without its trailer, which the
        // follower rejects; a clean one is closed normally.
        if (s.ok()) sink.done();
        else LogError("snapshot stream ended early: " + s.ToString());
        return s.ok();
      });
}

}  // namespace mehdbd::replication
