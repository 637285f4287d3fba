// SPDX-License-Identifier: MIT
//
// Helper for failing_volume_test, run under the failing_volume LD_PRELOAD
// library: writes to a store, makes the volume fail (creates the trigger
// file), writes again, and prints one line per call with what the store
// answered, for the test to compare. Then it ends without closing the
// store, as a killed process would.
//
//   failing_volume_writer DIR TRIGGER MODE
//   MODE stay:    the volume stays failed to the end
//   MODE recover: the volume recovers (trigger removed) and a write follows
#include <mehdb/store.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

namespace {

std::string Outcome(const mehdb::Status& s) { return std::string(mehdb::CodeName(s.code())); }

void Print(std::string_view what, const std::string& outcome) {
  std::printf("%.*s: %s\n", static_cast<int>(what.size()), what.data(), outcome.c_str());
  std::fflush(stdout);
}

void Put(mehdb::Store& store, const std::string& key, const std::string& value) {
  auto r = store.Put(key, value);
  Print("put " + key + " " + value, r.ok() ? "ok" : Outcome(r.status()));
}

void Get(mehdb::Store& store, const std::string& key) {
  auto r = store.Get(key);
  Print("get " + key, !r.ok() ? Outcome(r.status()) : *r ? (*r)->data : "none");
}

void Scan(mehdb::Store& store, const std::string& prefix) {
  mehdb::ScanOptions o;
  o.prefix = prefix;
  auto r = store.Scan(o);
  std::string got;
  if (r.ok())
    for (const auto& item : r->items) got += (got.empty() ? "" : ",") + item.value.data;
  Print("scan " + prefix, r.ok() ? got : Outcome(r.status()));
}

void Count(mehdb::Store& store) {
  auto r = store.Count();
  Print("count", r.ok() ? std::to_string(*r) : Outcome(r.status()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: failing_volume_writer DIR TRIGGER stay|recover\n");
    return 2;
  }
  const std::string trigger = argv[2];
  const std::string mode = argv[3];
  // The applier never runs on its own here: a failed LMDB commit would make
  // the next write fail before its log append, which is not the case under
  // test.
  mehdb::Options options;
  options.apply_delay = std::chrono::hours(1);
  auto opened = mehdb::Store::Open(argv[1], options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  mehdb::Store& store = **opened;
  Put(store, "a", "a1");
  Put(store, "b", "b1");

  std::ofstream(trigger) << "the volume failed\n";
  Put(store, "a", "a2");  // written to the log, its sync fails, it cannot be cut off
  Get(store, "a");
  Get(store, "b");
  Scan(store, "a");
  Scan(store, "b");
  Count(store);
  Put(store, "b", "b2");  // no new log segment can be made: nothing written

  if (mode == "recover") {
    ::unlink(trigger.c_str());
    Put(store, "b", "b3");  // a new segment from a2's seq on: a2 is gone for good
    Get(store, "a");
    Scan(store, "a");
    Count(store);
  }
  std::fflush(stdout);
  _exit(0);  // no close: the applier never ran, the log holds everything
}
