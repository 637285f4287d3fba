// SPDX-License-Identifier: MIT
#include "replication/follower.h"

#include <pthread.h>

#include <mehdb/replication.h>

#include <charconv>

#include "base/log.h"
#include "replication/protocol.h"
#include "replication/snapshot_fetch.h"

namespace mehdbd::replication {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t HeaderU64(const httplib::Response& res, const char* name) {
  const std::string v = res.get_header_value(name);
  std::uint64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

std::uint64_t WallNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

Follower::Follower(StoreHandle& stores, FollowerOptions options)
    : stores_(stores), options_(std::move(options)), backoff_(options_.backoff_min) {
  status_.state = "starting";
  status_.leader = options_.leader_peer_url;
  if (!options_.leader_url.empty())
    original_ = std::make_unique<OriginalApiSync>(options_.leader_url, options_.tls,
                                                   options_.token, options_.original_api);
}

Follower::~Follower() { Stop(); }

void Follower::Start() {
  thread_ = std::thread([this] { Run(); });
  ::pthread_setname_np(thread_.native_handle(), "mehdbd-follow");
}

void Follower::Stop() {
  if (stop_.exchange(true)) return;
  {
    std::lock_guard lock(wake_mu_);
  }
  wake_.notify_all();
  {
    std::lock_guard lock(client_mu_);
    if (client_) client_->stop();
  }
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<httplib::Client> Follower::NewClient(std::chrono::milliseconds read_timeout) {
  auto client = std::make_unique<httplib::Client>(options_.leader_peer_url);
  client->set_connection_timeout(2, 0);
  client->set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(read_timeout).count(), 0);
  client->set_write_timeout(5, 0);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // see PeerServer: no Nagle delay per request
  // Read per connection, so a rotated token is sent after the next
  // reconnect (a refusal drops the connection, see Fail()).
  if (options_.token != nullptr)
    client->set_bearer_token_auth(options_.token->Current().c_str());
  tls::ConfigureClient(*client, options_.tls);
  return client;
}

void Follower::SetState(const std::string& state) {
  std::lock_guard lock(status_mu_);
  status_.state = state;
}

void Follower::Fail(const std::string& error) {
  {
    std::lock_guard lock(status_mu_);
    ++status_.peer_errors;
    if (status_.last_error != error) LogWarning("peer sync: " + error);
    status_.last_error = error;
  }
  resumed_ = false;
  // Drop the connection: the next attempt reconnects and resolves the
  // leader's name again (pods come back with new addresses).
  std::lock_guard lock(client_mu_);
  client_.reset();
}

void Follower::FailAuth(int status, const char* what) {
  SetState("unauthorized");
  Fail("leader answered " + std::to_string(status) + " to a " + what +
       (status == 401 ? ": it requires a token (set --auth-token-file)"
                      : ": it refused our token (check --auth-token-file)"));
}

void Follower::Backoff() {
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto delay = std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(backoff_.count()) * jitter(rng_)));
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  std::unique_lock lock(wake_mu_);
  wake_.wait_for(lock, delay, [&] { return stop_.load(); });
}

void Follower::Run() {
  while (!stop_.load()) {
    if (original_mode_) {
      OriginalApiStep();
      continue;
    }
    bool pristine = false;
    if (!synced_) {
      auto store = stores_.Current();
      auto count = store->Count();
      pristine = store->LastSeq() == 0 && count.ok() && *count == 0;
    }
    // A new or wiped follower starts from a snapshot: one stream of the
    // current data beats replaying every write ever made.
    // So does one that followed an original leader: its store has a history
    // of its own that the leader's log cannot continue.
    Outcome outcome = pristine || snapshot_after_original_
                          ? (Bootstrap() ? Outcome::kApplied : Outcome::kError)
                          : Poll();
    if (outcome == Outcome::kApplied || outcome == Outcome::kIdle) synced_ = true;
    switch (outcome) {
      case Outcome::kApplied:
      case Outcome::kIdle:
        backoff_ = options_.backoff_min;
        break;
      case Outcome::kNeedSnapshot:
        if (!Bootstrap()) Backoff();
        break;
      case Outcome::kMismatch:
        if (options_.resnapshot_on_mismatch) {
          LogWarning("peer sync: history mismatch; loading a new snapshot as configured");
          if (Bootstrap()) break;
        }
        Backoff();
        break;
      case Outcome::kError:
        if (peer_absent_ && MaybeFollowOriginal()) break;
        Backoff();
        break;
      case Outcome::kLeaderRecovering: {
        // Poll again soon: the leader decides on the positions it has seen.
        backoff_ = options_.backoff_min;
        std::unique_lock lock(wake_mu_);
        wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_.load(); });
        break;
      }
    }
  }
}

bool Follower::MaybeFollowOriginal() {
  if (!original_ || !original_->LeaderAnswersStatus()) return false;
  // Our own leader binds its client port just before its peer port: a
  // restart seen in between is not an original leader.
  if (LeaderSpeaksPeer()) return false;
  LogWarning("peer sync: the leader " + options_.leader_url +
             " has no peer port but answers the original's API (mehdb 0.6); following it with "
             "GET /keys and GET /get/{key} until its peer port answers");
  original_mode_ = true;
  std::lock_guard lock(status_mu_);
  status_.mode = "original-api";
  status_.state = "original-api";
  return true;
}

bool Follower::LeaderSpeaksPeer() {
  auto client = NewClient(std::chrono::seconds(5));
  const std::string path = std::string(kLogPath) + "?from=1&history=&max_bytes=1&wait_ms=0";
  auto res = client->Get(path, httplib::Headers{{kFollowerHeader, options_.name}});
  if (!res) return false;
  // Every peer-server answer names its history or, refusing (a recovering
  // leader's 503, say), its reason; the original's API does neither.
  return res->status == 401 || res->status == 403 || res->has_header(kHistoryHeader) ||
         res->has_header(kReasonHeader);
}

void Follower::OriginalApiStep() {
  if (LeaderSpeaksPeer()) {
    LogInfo("peer sync: the leader's peer port answers now; loading a snapshot");
    original_mode_ = false;
    snapshot_after_original_ = true;
    {
      std::lock_guard lock(status_mu_);
      status_.mode = "peer";
    }
    if (!Bootstrap()) Backoff();
    return;
  }
  auto cycle = original_->RunCycle(*stores_.Current(), stop_);
  if (stop_.load()) return;
  if (!cycle.ok()) {
    Fail("following the original's API: " + cycle.status().ToString());
    Backoff();
    return;
  }
  {
    std::lock_guard lock(status_mu_);
    last_contact_ = Clock::now();
    ++status_.original_api_cycles;
    status_.original_api_missing = cycle->missing;
    status_.batches_applied += cycle->batches;
    status_.records_applied += cycle->puts + cycle->erases;
    status_.last_error.clear();
  }
  backoff_ = options_.backoff_min;
  std::unique_lock lock(wake_mu_);
  wake_.wait_for(lock, options_.poll_wait, [&] { return stop_.load(); });
}

Follower::Outcome Follower::Poll() {
  std::shared_ptr<httplib::Client> client;
  {
    std::lock_guard lock(client_mu_);
    if (!client_) client_ = NewClient(options_.poll_wait + std::chrono::seconds(5));
    client = client_;
  }
  auto store = stores_.Current();
  const mehdb::Seq applied = store->LastSeq();
  const mehdb::HistoryId history = store->History();
  const std::string path = std::string(kLogPath) + "?from=" + std::to_string(applied + 1) +
                           "&history=" + history.ToHex() +
                           "&max_bytes=" + std::to_string(options_.max_batch_bytes) +
                           // The first poll of a connection answers at once, so a
                           // (re)started follower is ready as soon as it caught up.
                           "&wait_ms=" + std::to_string(resumed_ ? options_.poll_wait.count() : 0);
  httplib::Headers headers{{kFollowerHeader, options_.name}};
  if (!options_.advertise_peer_url.empty())
    headers.emplace(kPeerUrlHeader, options_.advertise_peer_url);
  auto res = client->Get(path, headers);
  if (stop_.load()) return Outcome::kIdle;
  peer_absent_ = (!res && res.error() == httplib::Error::Connection) || (res && res->status == 404);
  if (!res) {
    SetState("leader-unreachable");
    Fail("leader " + options_.leader_peer_url + " unreachable: " +
         tls::DescribeError(*client, res.error()));
    return Outcome::kError;
  }
  // A refusal carries none of the position headers read below.
  if (res->status == 401 || res->status == 403) {
    FailAuth(res->status, "log request");
    return Outcome::kError;
  }
  if (res->status == 503 && res->get_header_value(kReasonHeader) == kReasonRecovering) {
    // A leader on an empty volume collects followers' positions and loads
    // the most advanced one's data; it has not lost contact with us, and it
    // is not another history yet. Our data stays what readers get.
    std::lock_guard lock(status_mu_);
    if (status_.state != "leader-recovering")
      LogInfo("peer sync: the leader is recovering its data from its followers (this one is at "
              "seq " + std::to_string(applied) + "); waiting");
    status_.state = "leader-recovering";
    return Outcome::kLeaderRecovering;
  }
  {
    std::lock_guard lock(status_mu_);
    last_contact_ = Clock::now();
    status_.leader_history = res->get_header_value(kHistoryHeader);
    status_.leader_last_seq = HeaderU64(*res, kLastSeqHeader);
    status_.leader_first_seq = HeaderU64(*res, kFirstSeqHeader);
    status_.applied_seq = applied;
  }
  if (res->status == 410) {
    LogInfo("peer sync: the leader trimmed its log past seq " + std::to_string(applied + 1) +
            "; loading a snapshot");
    return Outcome::kNeedSnapshot;
  }
  if (res->status == 409) {
    std::lock_guard lock(status_mu_);
    if (status_.state != "history-mismatch") {
      ++status_.history_mismatches;
      LogError("peer sync: refusing the leader's data (" + res->get_header_value(kReasonHeader) +
               "): this store is history " + history.ToHex() + " at seq " +
               std::to_string(applied) + ", the leader is history " + status_.leader_history +
               " at seq " + std::to_string(status_.leader_last_seq));
    }
    status_.state = "history-mismatch";
    status_.last_error = res->get_header_value(kReasonHeader);
    return Outcome::kMismatch;
  }
  if (res->status != 200) {
    Fail("leader answered " + std::to_string(res->status) + " to a log request");
    return Outcome::kError;
  }

  // Verify everything before applying anything.
  const auto leader_history = mehdb::HistoryId::FromHex(res->get_header_value(kHistoryHeader));
  if (!leader_history || *leader_history != history) {
    Fail("log answer from another history");
    return Outcome::kError;
  }
  const mehdb::Seq from = HeaderU64(*res, kFromHeader), to = HeaderU64(*res, kToHeader);
  if (from != applied + 1 || to + 1 < from) {
    Fail("log answer for the wrong range " + std::to_string(from) + ".." + std::to_string(to));
    return Outcome::kError;
  }
  auto records = mehdb::DecodeLogBatch(res->body);
  if (!records.ok()) {
    Fail("bad log batch: " + records.status().ToString());
    return Outcome::kError;
  }
  if (records->size() != to + 1 - from || (!records->empty() && records->front().seq != from)) {
    Fail("log batch does not hold the records its headers announce");
    return Outcome::kError;
  }
  if (!resumed_ && applied > 0) {
    std::lock_guard lock(status_mu_);
    ++status_.partial_resumes;
  }
  resumed_ = true;
  SetState("streaming");
  if (records->empty()) {
    std::lock_guard lock(status_mu_);
    if (applied >= status_.leader_last_seq) last_current_ = last_contact_;
    return Outcome::kIdle;
  }

  auto done = store->Apply(*leader_history, *records);
  if (!done.ok()) {
    Fail("applying records " + std::to_string(from) + ".." + std::to_string(to) + ": " +
         done.status().ToString());
    return Outcome::kError;
  }
  std::lock_guard lock(status_mu_);
  status_.applied_seq = *done;
  ++status_.batches_applied;
  status_.records_applied += records->size();
  status_.last_error.clear();
  last_applied_commit_ns_ = records->back().commit_time_ns;
  if (*done >= status_.leader_last_seq) last_current_ = last_contact_;
  return Outcome::kApplied;
}

bool Follower::Bootstrap() {
  SetState("snapshotting");
  std::shared_ptr<httplib::Client> client = NewClient(std::chrono::seconds(30));
  {
    std::lock_guard lock(client_mu_);
    client_ = client;
  }
  // The snapshot is the leader's data as of some moment after this one.
  const auto asked = Clock::now();
  const SnapshotFetch fetched = FetchSnapshot(stores_, *client, options_.name, stop_);
  peer_absent_ = fetched.peer_absent;
  if (fetched.status == 401 || fetched.status == 403) {
    FailAuth(fetched.status, "snapshot request");
    return false;
  }
  if (fetched.status == 503) {
    // A leader recovering its own data answers 503 until it has (see Poll);
    // we have nothing to offer it, so just wait.
    SetState("leader-recovering");
    return false;
  }
  if (!fetched.ok) {
    Fail("snapshot failed: " + fetched.error);
    return false;
  }
  const mehdb::SnapshotHeader* header = &fetched.header;
  LogInfo("peer sync: loaded a snapshot of history " + header->history.ToHex() + " at seq " +
          std::to_string(header->seq) + " (" + std::to_string(header->entries) + " keys)");
  std::lock_guard lock(status_mu_);
  ++status_.snapshots;
  snapshot_after_original_ = false;
  status_.applied_seq = header->seq;
  status_.state = "streaming";
  status_.last_error.clear();
  last_contact_ = Clock::now();
  last_current_ = asked;
  resumed_ = true;  // streaming on from a snapshot is not a resume
  return true;
}

double Follower::StalenessSeconds() const {
  std::lock_guard lock(status_mu_);
  if (last_current_ == Clock::time_point{}) return -1;
  return std::chrono::duration<double>(Clock::now() - last_current_).count();
}

bool Follower::LeaderOutOfReach() const {
  std::lock_guard lock(status_mu_);
  if (status_.state == "leader-unreachable") return true;
  return last_contact_ != Clock::time_point{} &&
         Clock::now() - last_contact_ > options_.max_contact_age;
}

FollowerStatus Follower::Status() const {
  std::lock_guard lock(status_mu_);
  FollowerStatus s = status_;
  s.applied_seq = stores_.Current()->LastSeq();
  s.lag_records = s.leader_last_seq > s.applied_seq ? s.leader_last_seq - s.applied_seq : 0;
  if (s.lag_records > 0 && last_applied_commit_ns_ != 0) {
    const std::uint64_t now = WallNs();
    s.lag_seconds = now > last_applied_commit_ns_
                        ? static_cast<double>(now - last_applied_commit_ns_) / 1e9
                        : 0;
  }
  if (last_contact_ != Clock::time_point{})
    s.seconds_since_contact =
        std::chrono::duration<double>(Clock::now() - last_contact_).count();
  if (last_current_ != Clock::time_point{})
    s.staleness_seconds = std::chrono::duration<double>(Clock::now() - last_current_).count();
  // Following an original leader there are no seqs: ready once a cycle has
  // run, while cycles keep succeeding, and with at most max_lag_records of
  // the leader's keys still to download.
  const bool original = s.state == "original-api";
  if (original) s.lag_records = s.original_api_missing;  // no seqs in this mode
  const double contact_limit_ms =
      static_cast<double>((options_.max_contact_age + (original ? options_.poll_wait
                                                                : std::chrono::milliseconds(0)))
                              .count());
  const bool in_contact =
      s.seconds_since_contact >= 0 && s.seconds_since_contact * 1000 <= contact_limit_ms;
  // A recovering leader takes no writes, so a follower's data is as stale
  // as if the leader were away.
  const bool away = s.state == "leader-unreachable" || s.state == "leader-recovering" ||
                    (s.state == "streaming" && !in_contact);
  const bool fresh_enough =
      s.staleness_seconds >= 0 &&
      s.staleness_seconds * 1000 <= static_cast<double>(options_.max_staleness.count());
  if (away && fresh_enough) {
    s.leader_away = true;  // ready: reads are at most max_staleness old
  } else if (away && s.staleness_seconds >= 0) {
    s.not_ready_reason = "out of contact with the leader and the data may be " +
                         std::to_string(static_cast<long long>(s.staleness_seconds)) +
                         " s old, beyond --max-staleness";
  } else if (original && s.original_api_cycles == 0) {
    s.not_ready_reason = "following the original's API: the first cycle has not finished";
  } else if (!original && s.state != "streaming") {
    s.not_ready_reason = "peer sync is " + s.state;
  } else if (!in_contact) {
    s.not_ready_reason = "no contact with the leader recently";
  } else if (s.lag_records > options_.max_lag_records) {
    s.not_ready_reason = std::to_string(s.lag_records) + " records behind the leader";
  }
  s.ready = s.not_ready_reason.empty();
  return s;
}

}  // namespace mehdbd::replication
