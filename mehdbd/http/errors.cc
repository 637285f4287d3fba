// SPDX-License-Identifier: MIT
//
// Implementation of errors.h.
#include "http/errors.h"

#include <string>

#include "base/log.h"

namespace mehdbd::http {
namespace {

struct Entry {
  int status;
  std::string_view text;
};

Entry EntryFor(mehdb::Code code) {
  using mehdb::Code;
  switch (code) {
    case Code::kOk:
      return {200, "ok"};
    case Code::kInvalidArgument:
      return {400, "invalid request"};
    case Code::kValueTooLarge:
      return {413, "value too large"};
    case Code::kNotFound:
      return {404, "not found"};
    case Code::kFailedPrecondition:
      return {409, "conflict: the store is not in the state this needs"};
    case Code::kAborted:
      return {412, "precondition failed"};
    case Code::kOutOfRange:
      return {410, "no longer retained"};
    case Code::kResourceExhausted:
      return {507, "insufficient storage: the store reached its size ceiling"};
    case Code::kNoSpace:
      return {507, "insufficient storage: the data volume is full"};
    case Code::kReadOnly:
      return {500, "store error: the data volume is read-only"};
    case Code::kDataLoss:
      return {500, "store error: data is damaged"};
    case Code::kUnavailable:
      return {503, "store unavailable, retry later"};
    case Code::kInternal:
      return {500, "store error"};
  }
  return {500, "store error"};
}

}  // namespace

int HttpStatusFor(mehdb::Code code) { return EntryFor(code).status; }

void LogStoreFailure(std::string_view what, const mehdb::Status& status) {
  std::string line(what);
  line += ": ";
  line += status.ToString();
  LogError(line);
}

void AnswerStoreError(net::Response& res, const mehdb::Status& status,
                      std::string_view what) {
  const Entry entry = EntryFor(status.code());
  if (entry.status >= 500) LogStoreFailure(what, status);
  if (status.code() == mehdb::Code::kUnavailable) {
    res.set_header("Retry-After", "1");
  }
  AnswerText(res, entry.status, entry.text);
}

}  // namespace mehdbd::http
