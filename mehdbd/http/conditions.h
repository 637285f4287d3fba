// SPDX-License-Identifier: MIT
//
// Conditional requests and read-your-writes, as request headers:
//
//  * ETag: a value's version (the seq of the write that last set it) as a
//    strong entity tag, "\"42\"". GET answers it; PUT answers the new one.
//  * If-Match: "*" or entity tags. On a write it becomes a compare-and-set
//    (mehdb::Batch::Expect), so the check and the write are one atomic step;
//    a write takes one tag, since Expect checks one version per key.
//  * If-None-Match: "*" or entity tags. On a write only "*" (create only if
//    absent); on a read, a match answers 304 Not Modified.
//  * min_seq (query parameter) or X-Mehdb-Min-Seq (header): the read waits
//    until this replica has applied that seq (see Api::WaitForSeq).
#ifndef MEHDBD_HTTP_CONDITIONS_H_
#define MEHDBD_HTTP_CONDITIONS_H_

#include "net/message.h"
#include <mehdb/store.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mehdbd::http {

// "\"42\"" for version 42.
std::string FormatETag(mehdb::Seq version);

// One If-Match or If-None-Match header: "*" or a list of entity tags. Weak
// tags (W/"42") are kept with their version; the comparison decides.
struct TagList {
  bool any = false;                // "*"
  std::vector<mehdb::Seq> strong;  // "42"
  std::vector<mehdb::Seq> weak;    // W/"42"
  std::size_t foreign = 0;         // tags that are no version of ours
};

struct Preconditions {
  std::optional<TagList> if_match;
  std::optional<TagList> if_none_match;
  bool empty() const { return !if_match && !if_none_match; }
};

// Parses the headers; an unparsable one is an error with a reason. Tags that
// are not versions ("abc") are valid syntax that can never match.
std::optional<Preconditions> ParsePreconditions(const net::Request& req,
                                                std::string& error);

// acks=N&ack_timeout=D on a write (Api::ParseAckWait): once committed, the
// write waits until N followers applied it, for at most `timeout`.
struct AckWait {
  bool requested = false;  // acks was given (acks=0 too)
  std::size_t wanted = 0;
  std::chrono::milliseconds timeout{0};
};

// What a write must check, decided from its preconditions, and what it
// waits for afterwards.
struct WritePlan {
  bool conditional = false;  // use Batch::Expect(key, expect)
  mehdb::Seq expect = 0;     // a version, Batch::kPresent or Batch::kAbsent
  bool never = false;        // the condition cannot hold: answer 412 at once
  AckWait acks;              // set by Api::AnswerSet from the query
};
// Sets `error` (a 400) and answers nullopt for conditions that Expect
// cannot express (several tags, If-None-Match with a tag, both headers).
std::optional<WritePlan> PlanWrite(const Preconditions& pre,
                                   std::string& error);

// For a read of a key at `version` (nullopt = missing): 412 when If-Match
// fails, 304 when If-None-Match matches, 0 to answer normally.
int ReadOutcome(const Preconditions& pre, std::optional<mehdb::Seq> version);

// The seq a read must wait for: the min_seq parameter or X-Mehdb-Min-Seq
// header (0 = none). Sets `error` on a malformed number.
mehdb::Seq ParseMinSeq(const net::Request& req, std::string& error);

}  // namespace mehdbd::http

#endif  // MEHDBD_HTTP_CONDITIONS_H_
