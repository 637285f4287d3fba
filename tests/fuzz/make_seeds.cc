// SPDX-License-Identifier: MIT
//
// Writes the seed corpora under tests/fuzz/corpus/<target>/: real requests,
// real change-log batches and snapshot streams produced by a real store,
// real config files. Run once after a format change and commit the result:
//
//   build/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
//
// Log records carry a fixed commit time so batches regenerate byte for byte;
// snapshot streams differ in their random history id only.
#include <mehdb/replication.h>
#include <mehdb/store.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include "fuzz_support.h"

namespace {

namespace fs = std::filesystem;

class SeedWriter {
 public:
  explicit SeedWriter(fs::path root) : root_(std::move(root)) {}
  void Add(const std::string& target, const std::string& name,
           const std::string& bytes) {
    fs::create_directories(root_ / target);
    std::ofstream(root_ / target / name, std::ios::binary) << bytes;
    ++written_[target];
  }
  void Report() const {
    for (const auto& [target, n] : written_)
      std::printf("%-16s %zu seeds\n", target.c_str(), n);
  }

 private:
  fs::path root_;
  std::map<std::string, std::size_t> written_;
};

std::unique_ptr<mehdb::Store> OpenStore(const std::string& dir) {
  mehdb::Options o;
  o.durability = mehdb::Durability::kNoSync;
  o.map_bytes = std::uint64_t{1} << 20;
  o.now_ns = [] { return std::uint64_t{1'700'000'000'000'000'000}; };
  auto store = mehdb::Store::Open(dir, o);
  if (!store.ok()) mehdb_fuzz::Fail(store.status().ToString());
  return std::move(*store);
}

template <typename T>
T Must(mehdb::Result<T> r) {
  if (!r.ok()) mehdb_fuzz::Fail(r.status().ToString());
  return std::move(*r);
}

// A store with puts, an overwrite, an erase and a batch: every op kind.
void Fill(mehdb::Store& store) {
  Must(store.Put("alpha", "1"));
  Must(store.Put("beta", std::string(40, 'b')));
  Must(store.Put("alpha", ""));
  Must(store.Erase("beta"));
  mehdb::Batch batch;
  batch.Put("user.1", "ann").Put("user.2", "bob").Erase("alpha");
  Must(store.Write(batch));
  Must(store.Put("k~2", "v"));
}

void LogSeeds(SeedWriter& out) {
  const std::string dir = mehdb_fuzz::FreshPath("log-seed");
  auto store = OpenStore(dir);
  Fill(*store);
  out.Add("log_decode", "empty_batch", "");
  const mehdb::LogChunk all = Must(store->ReadLog(0, 1 << 20));
  out.Add("log_decode", "store_log_1_to_6", all.frames);
  const mehdb::LogChunk tail = Must(store->ReadLog(4, 1 << 20));
  out.Add("log_decode", "store_log_5_to_6", tail.frames);
  mehdb::LogRecord record;
  record.seq = 42;
  record.commit_time_ns = 7;
  record.ops = {{mehdb::LogOp::Kind::kPut, "key", "value"},
                {mehdb::LogOp::Kind::kErase, "gone", ""}};
  std::string one;
  mehdb::EncodeLogRecord(record, one);
  out.Add("log_decode", "encoded_record_42", one);
  out.Add("log_decode", "history_hex", store->History().ToHex() + all.frames);
  store.reset();
  mehdb_fuzz::RemoveTree(dir);
}

std::string Snapshot(const mehdb::Store& store, std::size_t chunk_bytes) {
  std::string stream;
  const mehdb::Status s = store.ExportSnapshot(
      [&](std::string_view bytes) {
        stream.append(bytes);
        return true;
      },
      chunk_bytes);
  if (!s.ok()) mehdb_fuzz::Fail(s.ToString());
  return stream;
}

void SnapshotSeeds(SeedWriter& out) {
  const std::string empty_dir = mehdb_fuzz::FreshPath("snap-seed");
  auto empty = OpenStore(empty_dir);
  // First byte: the chunk-size selector of snapshot_decode_fuzz.cc.
  out.Add("snapshot_decode", "empty_store_whole",
          std::string(1, '\0') + Snapshot(*empty, 1 << 20));
  empty.reset();
  mehdb_fuzz::RemoveTree(empty_dir);

  const std::string dir = mehdb_fuzz::FreshPath("snap-seed");
  auto store = OpenStore(dir);
  Fill(*store);
  for (int i = 0; i < 20; ++i)
    Must(store->Put("item" + std::to_string(100 + i), std::string(i, 'x')));
  const std::string stream = Snapshot(*store, 64);  // several entry frames
  out.Add("snapshot_decode", "store_whole", std::string(1, '\0') + stream);
  out.Add("snapshot_decode", "store_split_small",
          std::string(1, '\x83') + stream);  // top bit: also fed whole
  out.Add("snapshot_decode", "store_split_large",
          std::string(1, '\x09') + stream);
  out.Add("snapshot_decode", "store_cut", std::string(1, '\0') +
                                              stream.substr(0, stream.size() / 2));
  store.reset();
  mehdb_fuzz::RemoveTree(dir);
}

void HttpSeeds(SeedWriter& out) {
  // First byte: the setup bits of http_request_fuzz.cc (1 = original key
  // rule, 2 = follower).
  const std::string leader(1, '\0'), original(1, '\1'), follower(1, '\2');
  const std::string h = " HTTP/1.1\r\nHost: mehdb:9876\r\n";
  out.Add("http_request", "put_get",
          leader + "PUT /set/abc" + h + "Content-Length: 5\r\n\r\nhello" +
              "GET /get/abc" + h + "\r\n");
  out.Add("http_request", "put_chunked",
          leader + "PUT /set/abc" + h +
              "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n"
              "0\r\nTrailer: t\r\n\r\n" +
              "HEAD /get/abc" + h + "\r\n");
  out.Add("http_request", "put_no_body_then_delete",
          leader + "PUT /set/empty" + h + "\r\n" + "DELETE /set/empty" + h +
              "\r\n" + "DELETE /set/empty" + h + "\r\n");
  out.Add("http_request", "conditional",
          leader + "PUT /set/k" + h + "If-None-Match: *\r\nContent-Length: 1\r\n\r\na" +
              "PUT /set/k" + h + "If-Match: \"1\"\r\nContent-Length: 1\r\n\r\nb" +
              "GET /get/k" + h + "If-None-Match: \"2\"\r\n\r\n" +
              "DELETE /set/k" + h + "If-Match: \"9\"\r\n\r\n");
  out.Add("http_request", "keys_paged",
          leader + "PUT /set/a1" + h + "\r\n" + "PUT /set/a2" + h + "\r\n" +
              "PUT /set/b1" + h + "\r\n" + "GET /keys?prefix=a&limit=1" + h +
              "\r\n" + "GET /keys?prefix=a&after=a1&limit=5" + h + "\r\n" +
              "GET /keys" + h + "\r\n");
  out.Add("http_request", "status_and_probes",
          leader + "GET /status" + h + "\r\n" + "GET /status?level=full" + h +
              "\r\n" + "GET /healthz" + h + "\r\n" + "GET /readyz" + h +
              "\r\n" + "GET /metrics" + h + "\r\n" + "GET /replication" + h +
              "\r\n");
  out.Add("http_request", "backup",
          leader + "PUT /set/x" + h + "Content-Length: 1\r\n\r\n1" +
              "HEAD /backup" + h + "\r\n" + "GET /backup" + h + "\r\n");
  out.Add("http_request", "min_seq_and_acks",
          leader + "PUT /set/x?acks=1&ack_timeout=0ms" + h +
              "Content-Length: 1\r\n\r\n1" + "GET /get/x?min_seq=1" + h +
              "\r\n" + "GET /get/x" + h + "X-Mehdb-Min-Seq: 99\r\n\r\n");
  out.Add("http_request", "watch",
          leader + "PUT /set/w1" + h + "Content-Length: 2\r\n\r\nhi" +
              "GET /watch?prefix=w&from=1&wait=0s&limit=5" + h + "\r\n" +
              "GET /watch?from=1&values=false&wait=0s&history=00" + h + "\r\n" +
              "GET /watch?from=0&wait=x" + h + "\r\n");
  out.Add("http_request", "expect_continue",
          leader + "PUT /set/big" + h +
              "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc");
  out.Add("http_request", "errors",
          leader + "OPTIONS /set/a" + h + "\r\n" + "POST /set/a" + h + "\r\n" +
              "GET /nowhere" + h + "\r\n" + "GET /get/%zz" + h + "\r\n" +
              "GET /get/a%2Fb" + h + "\r\n" + "PUT /set/a" + h +
              "Content-Length: 99999999\r\n\r\n");
  out.Add("http_request", "original_rule",
          original + "GET /get/ABC" + h + "\r\n" + "PUT /set/abc" + h +
              "Content-Length: 2\r\n\r\nok" + "GET /get/abc" + h + "\r\n");
  out.Add("http_request", "follower",
          follower + "PUT /set/abc?acks=1" + h + "\r\n" +
              "GET /get/abc?min_seq=3" + h + "\r\n" + "GET /readyz" + h +
              "\r\n" + "DELETE /set/abc" + h + "Content-Length: 2\r\n\r\nok");
}

void KeySeeds(SeedWriter& out) {
  out.Add("key_rule", "lower", "abc");
  out.Add("key_rule", "extended", "User-1.2_x~");
  out.Add("key_rule", "dots", "..");
  out.Add("key_rule", "escaped_slash", "a%2Fb");
  out.Add("key_rule", "target_set", "/set/abc?acks=1");
  out.Add("key_rule", "target_get_escaped", "/get/%41b%7e");
  out.Add("key_rule", "target_fixed", "/keys?prefix=a");
  out.Add("key_rule", "longest", std::string(511, 'k'));
  out.Add("key_rule", "too_long", std::string(512, 'k'));
}

void ConfigSeeds(SeedWriter& out, const fs::path& repo) {
  // First byte: 0 names the file with --config, 1 with MEHDB_CONFIG.
  std::ifstream in(repo / "kustomize/base/mehdb.conf", std::ios::binary);
  const std::string kit_conf((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  const std::string nul(1, '\0');
  out.Add("config", "kit_pod",
          std::string(1, '\0') + "--port=9876\n--datadir=/data" + nul +
              "MEHDB_HOST=mehdb-1\nMEHDB_NAMESPACE=prod\n"
              "MEHDB_PORT=tcp://10.0.0.1:9876" +
              nul + kit_conf);
  out.Add("config", "env_config_file",
          std::string(1, '\1') + "--key-rule=original" + nul +
              "MEHDB_LOCAL=yes" + nul +
              "durability = nosync\nmap-size = 1MiB\nmax-map-size = 1GiB\n"
              "read-timeout = 500ms\nthreads = 8\n");
  out.Add("config", "flags_only",
          std::string(1, '\0') +
              "--host=mehdb-2\n--leader-url=http://10.1.2.3:9876\n"
              "--max-value-size=1M\n--log-retain-entries=10\n"
              "--access-log\n--resnapshot-on-mismatch=true\n"
              "--poll-wait=2s\n--peer-port=9877\n--max-lag-records=5");
  out.Add("config", "help", std::string(1, '\0') + "--help");
  out.Add("config", "bad_value", std::string(1, '\0') + "--port=99999");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  // The repository root, for the kit's real config file.
  const fs::path repo = fs::absolute(corpus).parent_path().parent_path().parent_path();
  SeedWriter out(corpus);
  LogSeeds(out);
  SnapshotSeeds(out);
  HttpSeeds(out);
  KeySeeds(out);
  ConfigSeeds(out, repo);
  out.Report();
  return 0;
}
