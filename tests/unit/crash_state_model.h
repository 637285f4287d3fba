// SPDX-License-Identifier: MIT
//
// Shared by crash_state_writer and crash_state_test: the values the writer
// stores, and its acknowledgement lines ("P key gen size" for a put that
// returned, "E key" for an erase), from which the test knows what each key
// may hold in a crash state.
#ifndef MEHDB_TESTS_UNIT_CRASH_STATE_MODEL_H_
#define MEHDB_TESTS_UNIT_CRASH_STATE_MODEL_H_

#include <cstddef>
#include <string>

namespace mehdb::testing {

// The value of put number `gen` of `key`: recognisable, and different for
// every (key, gen), so a stale or torn value never passes for the right one.
inline std::string CrashStateValue(const std::string& key, unsigned gen, std::size_t size) {
  const std::string unit = key + "#" + std::to_string(gen) + ";";
  std::string out;
  out.reserve(size);
  while (out.size() < size) out += unit;
  out.resize(size);
  return out;
}

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_CRASH_STATE_MODEL_H_
