// SPDX-License-Identifier: MIT
//
// A request as the front end hands it to a service, and the answer the
// service fills in. Plain data, no I/O: framing.h fills a Request from the
// bytes of a connection, connection.cc writes a Response back.
//
// Header names compare case-insensitively (RFC 9110 section 5.1); lookups
// answer the first field of a name. Query parameters are percent-decoded
// with '+' read as a space (HTML form encoding, as clients send them).
#ifndef MEHDBD_NET_MESSAGE_H_
#define MEHDBD_NET_MESSAGE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mehdbd::net {

class WaitQueue;
struct Response;

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Ordered fields, duplicates kept, names compared case-insensitively.
class Headers {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field named `name` with one.
  void Set(std::string_view name, std::string value);
  const std::string* Find(std::string_view name) const;
  std::size_t Count(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const {
    return fields_;
  }
  void Clear() { fields_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;   // as sent: an upper-case token
  std::string target;   // as sent: "/set/abc?x=1"
  std::string path;     // target up to '?', not decoded
  std::string query;    // after '?', not decoded (may be empty)
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  Headers headers;
  std::multimap<std::string, std::string> params;  // from `query`, decoded
  std::string body;     // filled before Service::Handle when it was read
  std::string remote_addr;
  // When its head was complete: deadlines of waits are counted from here.
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  // Set by the service for its own logs and metrics (e.g. the route).
  int tag = -1;

  bool has_header(std::string_view name) const {
    return headers.Find(name) != nullptr;
  }
  std::string get_header_value(std::string_view name) const {
    const std::string* v = headers.Find(name);
    return v ? *v : std::string();
  }
  // The first field as an unsigned number; 0 when absent or not a number.
  std::uint64_t get_header_u64(std::string_view name) const;
  bool has_param(const std::string& name) const {
    return params.find(name) != params.end();
  }
  std::size_t get_param_value_count(const std::string& name) const {
    return params.count(name);
  }
  std::string get_param_value(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  bool IsHead() const { return method == "HEAD"; }
};

// Where a streamed answer writes its body; see Response::provider.
class Sink {
 public:
  virtual ~Sink() = default;
  // Queues `size` bytes as the next part of the body. False when the
  // connection failed: the provider should stop.
  virtual bool write(const char* data, std::size_t size) = 0;
  // Marks the body complete.
  virtual void done() = 0;
};

// Called on a worker thread, again and again until it calls sink.done() or
// answers false (which cuts the answer short: the client sees an
// incomplete chunked body, never a complete wrong one). Each call should
// write a bounded amount; the connection writes it out between calls.
using ContentProvider = std::function<bool(Sink& sink)>;

// A request parked by its handler (Response::Park): it holds no thread
// until `queue` is notified or `until` passes, then `resume` runs on a
// worker with the response as the handler left it. `final` is true at the
// deadline and when the server stops: resume must answer then; otherwise
// it may park again.
struct Parked {
  std::shared_ptr<WaitQueue> queue;
  std::chrono::steady_clock::time_point until;
  std::function<void(Response& res, bool final)> resume;
};

// The meeting point of a deferred answer (Response::Defer): the worker
// that ran the handler and the thread that completes the answer each
// arrive once; the second to arrive hands the response back to the
// connection's loop.
class Deferral {
 public:
  // Set by the front end before it arrives.
  void set_resume(std::function<void()> resume) { resume_ = std::move(resume); }
  void Arrive() {
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == 1) resume_();
  }

 private:
  std::atomic<int> arrived_{0};
  std::function<void()> resume_;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  ContentProvider provider;  // set: the body is streamed in chunks
  // The service wants the connection closed after this answer.
  bool close = false;
  // Set by Park(): the answer is not ready yet.
  std::shared_ptr<Parked> parked;
  // Set by Defer(): the answer comes later, from another thread.
  std::shared_ptr<Deferral> deferral;

  // For a handler whose answer waits on work done elsewhere (a write
  // waiting for its group's sync, done by the store's thread): the handler
  // calls Defer(), starts the work and returns; the work fills in this
  // response and then calls the returned function, once, from any thread,
  // touching the response no more. Its worker is free meanwhile. The answer
  // may park (Park) like any other.
  std::function<void()> Defer() {
    deferral = std::make_shared<Deferral>();
    return [d = deferral] { d->Arrive(); };
  }

  void Park(std::shared_ptr<WaitQueue> queue,
            std::chrono::steady_clock::time_point until,
            std::function<void(Response& res, bool final)> resume) {
    parked = std::make_shared<Parked>(Parked{std::move(queue), until, std::move(resume)});
  }

  void set_header(std::string_view name, std::string value) {
    headers.Set(name, std::move(value));
  }
  bool has_header(std::string_view name) const {
    return headers.Find(name) != nullptr;
  }
  std::string get_header_value(std::string_view name) const {
    const std::string* v = headers.Find(name);
    return v ? *v : std::string();
  }
  void set_content(std::string content, std::string content_type) {
    body = std::move(content);
    set_header("Content-Type", std::move(content_type));
  }
  void set_chunked_content_provider(std::string content_type,
                                    ContentProvider p) {
    set_header("Content-Type", std::move(content_type));
    provider = std::move(p);
  }
};

// Percent-decodes a query component; '+' becomes a space. False on a
// malformed escape (which is kept literally).
bool DecodeQueryComponent(std::string_view in, std::string& out);

// Answers `status` with a text body "<message>\n" (text/plain; UTF-8).
void AnswerText(Response& res, int status, std::string_view message);

// Splits `query` ("a=1&b=%20") into decoded parameters.
void ParseQuery(std::string_view query,
                std::multimap<std::string, std::string>& out);

// The standard reason phrase for `status` ("Not Found"), or "Unknown".
std::string_view ReasonPhrase(int status);

}  // namespace mehdbd::net

#endif  // MEHDBD_NET_MESSAGE_H_
