// SPDX-License-Identifier: MIT
#include "replication/original_api_sync.h"

#include "base/url_encoding.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <vector>

namespace mehdbd::replication {
namespace {

using mehdb::Code;
using mehdb::Status;

// The key list of a 1 GiB volume of one-letter-and-up keys stays far below;
// anything larger is not an answer we take.
constexpr std::size_t kMaxKeyListBytes = std::size_t{256} << 20;
// A value larger than the store accepts fails when written anyway; this only
// stops an endless body.
constexpr std::size_t kMaxValueBytes = std::size_t{1} << 30;
// Our keys are 1..511 bytes (DESIGN.md); the original's are [a-z]{1,255}.
constexpr std::size_t kMaxKeyBytes = 511;
// The original answers from local files; a silence this long is a failure.
constexpr int kReadTimeoutSeconds = 10;

// The answer of `GET /keys`: a JSON array of distinct key strings.
mehdb::Result<std::set<std::string>> ParseKeyList(const std::string& body) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array())
    return Status(Code::kDataLoss, "the leader's /keys answer is not a JSON array");
  std::set<std::string> keys;
  for (const auto& item : doc) {
    if (!item.is_string())
      return Status(Code::kDataLoss, "the leader's /keys answer holds a non-string");
    const std::string& key = item.get_ref<const std::string&>();
    if (key.empty() || key.size() > kMaxKeyBytes)
      return Status(Code::kDataLoss, "the leader's /keys answer holds a key of " +
                                         std::to_string(key.size()) + " bytes");
    keys.insert(key);
  }
  return keys;
}

}  // namespace

OriginalApiSync::OriginalApiSync(std::string leader_url, tls::ClientTls tls,
                                 const TokenFile* token, OriginalApiLimits limits)
    : leader_url_(std::move(leader_url)),
      tls_(std::move(tls)),
      token_(token),
      limits_(limits) {}

std::shared_ptr<httplib::Client> OriginalApiSync::Client() {
  if (!client_) {
    auto client = std::make_shared<httplib::Client>(leader_url_);
    client->set_connection_timeout(2, 0);
    // Also how long a shutdown may wait for a request in flight (no
    // stop() from another thread: the follower checks its flag between
    // requests).
    client->set_read_timeout(kReadTimeoutSeconds, 0);
    client->set_write_timeout(5, 0);
    client->set_keep_alive(true);
    if (token_ != nullptr) client->set_bearer_token_auth(token_->Current().c_str());
    tls::ConfigureClient(*client, tls_);
    client_ = std::move(client);
  }
  return client_;
}

mehdb::Result<int> OriginalApiSync::Get(const std::string& path, std::size_t limit,
                                        std::string& body) {
  auto client = Client();
  body.clear();
  int status = 0;
  bool too_big = false;
  auto res = client->Get(
      path, httplib::Headers{},
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (body.size() + n > limit) {
          too_big = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
  if (too_big)
    return Status(Code::kDataLoss, "the leader's answer to GET " + path + " is over " +
                                       std::to_string(limit) + " bytes");
  if (!res) {
    client_.reset();  // reconnect (and resolve the name again) next time
    return Status(Code::kUnavailable, "GET " + leader_url_ + path + " failed: " +
                                          tls::DescribeError(*client, res.error()));
  }
  return status;
}

bool OriginalApiSync::LeaderAnswersStatus() {
  std::string body;
  auto status = Get("/status", 64, body);
  return status.ok() && *status == 200 && body == "leader";
}

mehdb::Result<OriginalApiCycle> OriginalApiSync::RunCycle(mehdb::Store& store,
                                                          const std::atomic<bool>& stop) {
  OriginalApiCycle cycle;
  std::string body;
  auto status = Get("/keys", kMaxKeyListBytes, body);
  if (!status.ok()) return status.status();
  if (*status != 200)
    return Status(Code::kUnavailable, "the leader answered " + std::to_string(*status) +
                                          " to GET /keys");
  auto leader_keys = ParseKeyList(body);
  if (!leader_keys.ok()) return leader_keys.status();
  cycle.leader_keys = leader_keys->size();

  // Ours, to tell additions and deletions apart (keys only: a scanner
  // decodes no value it is not asked for). The scanner's read transaction
  // ends with this block, before any download or write.
  std::vector<std::string> ours;
  {
    auto scanner = store.NewScanner(mehdb::ScanOptions{});
    if (!scanner.ok()) return scanner.status();
    for (;;) {
      auto page = scanner->Next();
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      for (const mehdb::ScanEntry& entry : *page) ours.emplace_back(entry.key());
    }
  }

  mehdb::Batch batch;
  std::size_t batch_bytes = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    auto done = store.Write(batch);
    if (!done.ok()) return done.status();
    batch = mehdb::Batch();
    batch_bytes = 0;
    ++cycle.batches;
    return Status::Ok();
  };
  auto add = [&](auto&& op, std::size_t bytes) -> Status {
    op();
    batch_bytes += bytes;
    return batch_bytes >= limits_.max_batch_bytes ? flush() : Status::Ok();
  };

  // Deletions: every cycle (they cost no download).
  std::vector<std::string> existing;
  for (const std::string& key : ours) {
    if (leader_keys->count(key) != 0) {
      existing.push_back(key);
      continue;
    }
    if (Status s = add([&] { batch.Erase(key); }, key.size()); !s.ok()) return s;
    ++cycle.erases;
  }

  // What to download: new keys first, then existing ones from the cursor on.
  std::vector<std::string> wanted;
  const std::set<std::string> ours_set(ours.begin(), ours.end());
  for (const std::string& key : *leader_keys) {
    if (ours_set.count(key) != 0) continue;
    ++cycle.missing;
    if (wanted.size() < limits_.max_gets) wanted.push_back(key);
  }
  if (!existing.empty() && wanted.size() < limits_.max_gets) {
    auto start = std::upper_bound(existing.begin(), existing.end(), cursor_);
    const std::size_t share = std::min(limits_.max_gets - wanted.size(), existing.size());
    for (std::size_t i = 0; i < share; ++i) {
      if (start == existing.end()) start = existing.begin();
      wanted.push_back(*start);
      cursor_ = *start++;
    }
  }

  std::size_t downloaded_bytes = 0;
  for (const std::string& key : wanted) {
    if (stop.load() || downloaded_bytes >= limits_.max_bytes) break;
    auto got = Get("/get/" + PercentEncode(key), kMaxValueBytes, body);
    if (!got.ok()) {
      (void)flush();
      return got.status();
    }
    ++cycle.downloads;
    const bool addition = ours_set.count(key) == 0;
    if (addition) --cycle.missing;  // stored below, or gone from the leader
    if (*got == 404) {  // deleted since the listing
      if (!addition) {
        if (Status s = add([&] { batch.Erase(key); }, key.size()); !s.ok()) return s;
        ++cycle.erases;
      }
      continue;
    }
    if (*got != 200) {
      (void)flush();
      return Status(Code::kUnavailable,
                    "the leader answered " + std::to_string(*got) + " to GET /get/" + key);
    }
    downloaded_bytes += body.size();
    auto current = store.Get(key);
    if (!current.ok()) return current.status();
    if (*current && (*current)->data == body) continue;
    if (Status s = add([&] { batch.Put(key, body); }, key.size() + body.size()); !s.ok())
      return s;
    ++cycle.puts;
  }
  if (Status s = flush(); !s.ok()) return s;
  return cycle;
}

}  // namespace mehdbd::replication
