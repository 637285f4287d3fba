// SPDX-License-Identifier: MIT
//
// Implementation of buffer_session.h. It follows connection.cc's order of
// decisions step for step; what it leaves out is only what needs a socket
// (deadlines, budgets, lingering).
#include "net/buffer_session.h"

#include <future>
#include <optional>

#include "net/framing.h"

namespace mehdbd::net {
namespace {

class StringSink final : public Sink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  bool write(const char* data, std::size_t size) override {
    char head[24];
    const int n = std::snprintf(head, sizeof head, "%zx\r\n", size);
    out_.append(head, static_cast<std::size_t>(n));
    out_.append(data, size);
    out_ += "\r\n";
    return true;
  }
  void done() override { done_ = true; }
  bool finished() const { return done_; }

 private:
  std::string& out_;
  bool done_ = false;
};

void Write(const Request& req, Response& res, bool close, std::string& out) {
  out += SerializeHead(req, res, close, HttpDate());
  if (req.IsHead() || res.status == 204 || res.status == 304) return;
  if (!res.provider) {
    out += res.body;
    return;
  }
  StringSink sink(out);
  // Bounded: a provider that never finishes is cut like a slow client.
  for (int calls = 0; calls < 100000 && !sink.finished(); ++calls) {
    if (!res.provider(sink)) return;
  }
  if (sink.finished()) out += "0\r\n\r\n";
}

void Refuse(Response& res, int status, const std::string& message) {
  res.status = status;
  res.body = message + "\n";
  res.provider = nullptr;
  res.set_header("Content-Type", "text/plain; charset=utf-8");
}

}  // namespace

std::string ServeBuffer(Service& service, std::string_view input,
                        const ConnectionLimits& limits) {
  std::string out;
  for (std::size_t served = 0; !input.empty() && served < limits.max_requests; ++served) {
    Request req;
    Response res;
    const HeadResult head = ParseHead(input, limits.max_head_bytes, req);
    if (head.kind == HeadResult::kNeedMore) break;  // the client went away
    if (head.kind == HeadResult::kError) {
      Refuse(res, head.error.status, head.error.message);
      Write(req, res, true, out);
      break;
    }
    const std::string_view head_text = input.substr(0, head.head_bytes);
    input.remove_prefix(head.head_bytes);
    bool body_unread = head.framing.HasBody();
    Service::Admission next = service.Admit(req, res);
    const bool reads_body = next == Service::Admission::kReadBody ||
                            next == Service::Admission::kReadBodyOnLoop;
    if (reads_body && head.framing.HasBody()) {
      if (!head.framing.chunked && head.framing.length > limits.max_body_bytes) {
        Refuse(res, 413, "request body too large");
        next = Service::Admission::kAnswered;
      } else {
        BodyReader body(head_text, limits.max_body_bytes);
        input.remove_prefix(body.Feed(input));
        if (body.state() == BodyReader::kNeedMore) break;  // cut short
        if (body.state() != BodyReader::kDone) {
          Refuse(res, body.state() == BodyReader::kTooLarge ? 413 : 400,
                 "request body too large or malformed");
          next = Service::Admission::kAnswered;
        } else {
          req.body = body.Take();
          body_unread = false;
        }
      }
    }
    if (next != Service::Admission::kAnswered) service.Handle(req, res);
    // A deferred answer is waited for here (it comes from the store's thread).
    if (auto deferral = std::move(res.deferral)) {
      std::promise<void> answered;
      deferral->set_resume([&answered] { answered.set_value(); });
      deferral->Arrive();
      answered.get_future().wait();
    }
    // No waiting from memory: a parked request is resumed as at its deadline.
    if (auto parked = std::move(res.parked)) parked->resume(res, /*final=*/true);
    res.parked.reset();
    const bool close = body_unread || res.close || !head.keep_alive;
    Write(req, res, close, out);
    service.Finished(req, res, std::chrono::nanoseconds(0));
    if (close) break;
  }
  return out;
}

}  // namespace mehdbd::net
