// SPDX-License-Identifier: MIT
#include "replication/peer_server.h"

#include <charconv>
#include <optional>

#include "log.h"
#include "replication/protocol.h"

namespace mehdbd::replication {
namespace {

bool ParseU64(const std::string& s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

void PositionHeaders(httplib::Response& res, const mehdb::HistoryId& history,
                     mehdb::Seq first, mehdb::Seq last) {
  res.set_header(kHistoryHeader, history.ToHex());
  res.set_header(kFirstSeqHeader, std::to_string(first));
  res.set_header(kLastSeqHeader, std::to_string(last));
}

void Refuse(httplib::Response& res, int status, const char* reason, const std::string& text) {
  res.status = status;
  res.set_header(kReasonHeader, reason);
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

// Connections are served by mehdbd's own loop (http/connection.h), plain or
// TLS. A poll may legitimately wait max_wait before its answer is written;
// a follower polls over one connection for as long as it lives, so the
// request limit is practically unbounded.
http::ConnectionLimits PeerLimits() {
  using std::chrono::seconds;
  return {seconds(5), seconds(30), seconds(30), std::size_t{1} << 30};
}

}  // namespace

PeerServer::PeerServer(StoreHandle& stores, AckTable& acks, PeerServerOptions options)
    : stores_(stores), acks_(acks), options_(options), server_(PeerLimits(), options_.tls) {
  const unsigned threads = options_.threads;
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Only the Keep-Alive answer header; the loop applies the limits.
  // An answer goes out as headers, then body: without TCP_NODELAY, Nagle's
  // algorithm holds the body until the follower ACKs the headers, which its
  // delayed ACK postpones by ~40 ms: a 40 ms replication lag on every poll.
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(30);
  server_.set_keep_alive_max_count(1u << 30);
  // Before any handler, and before cpp-httplib would read a body.
  server_.set_pre_routing_handler([this](const httplib::Request& req,
                                         httplib::Response& res) {
    if (auth_ == nullptr ||
        auth_->Admit(req, res, http::Access::kProtected, http::Listener::kPeer))
      return httplib::Server::HandlerResponse::Unhandled;
    // A refused peer reconnects anyway, and any body it sent is unread.
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_.Get(kLogPath, [this](const httplib::Request& req, httplib::Response& res) {
    Log(req, res);
  });
  server_.Get(kSnapshotPath, [this](const httplib::Request& req, httplib::Response& res) {
    Snapshot(req, res);
  });
  server_.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                   std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("peer request failed: " + what);
    res.status = 500;
    res.set_content("internal error\n", "text/plain; charset=utf-8");
  });
}

PeerServer::~PeerServer() { Stop(); }

int PeerServer::Bind(const std::string& host, int port, std::string& error) {
  const int bound = port == 0 ? server_.bind_to_any_port(host.c_str())
                              : (server_.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound < 0) error = "cannot listen for peers on " + host + ":" + std::to_string(port);
  return bound;
}

void PeerServer::Start() {
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

void PeerServer::Stop() {
  if (stopping_.exchange(true)) return;
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void PeerServer::Log(const httplib::Request& req, httplib::Response& res) {
  std::uint64_t from = 0, max_bytes = options_.max_batch_bytes, wait_ms = 0;
  if (!ParseU64(req.get_param_value("from"), from) || from == 0)
    return Refuse(res, 400, "bad-request", "from must be a sequence number >= 1");
  if (req.has_param("max_bytes") && !ParseU64(req.get_param_value("max_bytes"), max_bytes))
    return Refuse(res, 400, "bad-request", "max_bytes must be a number");
  if (req.has_param("wait_ms") && !ParseU64(req.get_param_value("wait_ms"), wait_ms))
    return Refuse(res, 400, "bad-request", "wait_ms must be a number");
  max_bytes = std::clamp<std::uint64_t>(max_bytes, 1, options_.max_batch_bytes);
  const auto wait = std::min(std::chrono::milliseconds(wait_ms), options_.max_wait);
  const std::string history = req.get_param_value("history");
  if (history.empty() && from != 1)
    return Refuse(res, 400, "bad-request", "history is required after the first record");

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
  std::optional<PollScope> poll;
  if (!follower.empty()) poll.emplace(acks_, follower, from - 1);

  // Long-poll: nothing new yet, so wait (bounded) for the next commit.
  if (from == store->LastSeq() + 1 && wait.count() > 0 && !stopping_.load())
    store->WaitForSeq(from, wait);

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

void PeerServer::Snapshot(const httplib::Request& req, httplib::Response& res) {
  auto store = stores_.Current();
  const std::string follower = req.get_header_value(kFollowerHeader);
  LogInfo("streaming a snapshot at seq " + std::to_string(store->LastSeq()) + " to " +
          (follower.empty() ? std::string("a peer") : follower));
  res.set_header(kHistoryHeader, store->History().ToHex());
  res.set_chunked_content_provider(
      "application/octet-stream",
      [store](std::size_t, httplib::DataSink& sink) {
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
