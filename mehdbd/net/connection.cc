// SPDX-License-Identifier: MIT
//
// One connection's life on its event loop: TLS handshake, request heads,
// bodies, the hop to a worker and back, answers (whole or streamed in
// chunks), keep-alive, lingering close. Every wait for the client is an
// asynchronous operation under a deadline (front_end.h lists them); the
// only thread a connection ever takes is a worker, and only to run a
// complete request.
//
// The same code serves plain TCP and TLS (asio::ssl::stream over the
// socket): Connection is a template over the stream.
//
// Deadlines are one timer per connection that, when it fires, cancels the
// socket's pending operation; the operation then completes with
// operation_aborted and timed_out_ set. (Beast's tcp_stream closes the
// socket instead, which would leave no way to answer 408.)
#include <openssl/ssl.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <condition_variable>
#include <future>
#include <string>

#include "base/log.h"
#include "net/framing.h"
#include "net/front_end_internal.h"
#include "net/wait_queue.h"
#include "tls/server_context.h"

namespace mehdbd::net {
namespace {

using Clock = std::chrono::steady_clock;
using PlainStream = asio::ip::tcp::socket;
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

constexpr std::size_t kReadChunk = 16384;
// A streamed answer is written out whenever this much is queued.
constexpr std::size_t kStreamFlushBytes = 256 << 10;

std::chrono::milliseconds TimeFor(std::size_t bytes, std::size_t rate) {
  return std::chrono::milliseconds(rate == 0 ? 0 : bytes * 1000 / rate);
}

void AppendChunk(std::string& out, std::string_view data) {
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<std::size_t>(n));
  out.append(data);
  out += "\r\n";
}

}  // namespace

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  // TLS: `ssl` is the context the connection starts with.
  Connection(FrontEnd& fe, FrontEnd::ListenerState& listener,
             asio::ip::tcp::socket socket,
             std::unique_ptr<asio::ssl::context> ssl)
      : ConnectionBase(fe, listener),
        limits_(listener.options.limits),
        ssl_(std::move(ssl)),
        stream_(MakeStream(std::move(socket), ssl_.get())),
        timer_(stream_.get_executor()) {}

  ~Connection() override {
    if (budget_ > 0) fe_.ReleaseBody(budget_);
    fe_.Unregister(this);
  }

  void Start() override {
    fe_.Register(shared_from_this());
    boost::system::error_code ec;
    const auto remote = Socket().remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string();
    Socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      state_ = State::kHandshake;
      ExpireAfter(limits_.tls_handshake_timeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = Self()](boost::system::error_code ec) {
            if (ec) {
              if (self->timed_out_) self->fe_.timeouts_++;
              return self->Close();
            }
            self->ReadRequest();
          });
    } else {
      ReadRequest();
    }
  }

  void CloseIfIdle() override {
    if (state_ == State::kParked) return Wake(/*final=*/true);  // answer it now
    if (state_ == State::kHandshake || state_ == State::kHead) {
      closing_idle_ = true;
      boost::system::error_code ec;
      Socket().cancel(ec);
      Socket().close(ec);
    }
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  enum class State { kHandshake, kHead, kBody, kHandling, kParked, kWriting, kClosing, kClosed };

  static Stream MakeStream(asio::ip::tcp::socket socket, asio::ssl::context* ssl) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Stream(std::move(socket), *ssl);
    } else {
      (void)ssl;
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  asio::ip::tcp::socket& Socket() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // --- Deadlines (see the file comment) ------------------------------------

  void ExpireAfter(Clock::duration d) { ExpireAt(Clock::now() + d); }
  void ExpireAt(Clock::time_point when) {
    const std::uint64_t generation = ++deadline_;
    timed_out_ = false;
    timer_.expires_at(when);
    timer_.async_wait([self = Self(), generation](boost::system::error_code ec) {
      if (ec || generation != self->deadline_ || self->state_ == State::kClosed) return;
      if (self->state_ == State::kParked) return self->Wake(/*final=*/true);
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->Socket().cancel(ignored);
    });
  }
  void ClearDeadline() {
    ++deadline_;
    timed_out_ = false;
    timer_.cancel();
  }

  // --- Reading a request head -------------------------------------------

  void ReadRequest() {
    state_ = State::kHead;
    req_ = Request();
    res_ = Response();
    body_.reset();
    close_after_ = false;
    body_unread_ = false;
    head_started_ = false;
    if (fe_.stopping() && pos_ == in_.size()) return Close();
    if (pos_ > 0) {  // drop what earlier requests consumed
      in_.erase(0, pos_);
      pos_ = 0;
    }
    if (in_.empty()) {
      // Between requests: the idle deadline, and sheddable. An idle plain
      // connection keeps no buffer: it waits for readability with none and
      // gets its read buffer once bytes are there (10,000 idle connections
      // then cost kilobytes each, not a read buffer each).
      std::string().swap(in_);
      std::string().swap(out_);
      std::string().swap(pending_);
      std::string().swap(head_text_);
      fe_.MarkIdle(this);
      ExpireAfter(limits_.idle_timeout);
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        // Asio's TLS stream keeps encrypted bytes it has read (the first
        // request often comes with the handshake's last flight) in its own
        // buffer, where the socket's readability cannot show them: read.
        ReadMore([this](std::size_t) { TryHead(); });
        return;
      }
      Socket().async_wait(asio::socket_base::wait_read,
                          [self = Self()](boost::system::error_code ec) {
                            if (ec) {
                              if (self->idle.load(std::memory_order_relaxed))
                                self->fe_.UnmarkIdle(self.get());
                              return self->OnReadError(ec);
                            }
                            self->ReadMore([raw = self.get()](std::size_t) { raw->TryHead(); });
                          });
      return;
    }
    TryHead();
  }

  void TryHead() {
    if (!head_started_) {
      head_started_ = true;
      start_ = Clock::now();
      ExpireAfter(limits_.head_timeout);
    }
    const std::string_view bytes(in_.data() + pos_, in_.size() - pos_);
    head_ = ParseHead(bytes, limits_.max_head_bytes, req_);
    switch (head_.kind) {
      case HeadResult::kNeedMore:
        ReadMore([this](std::size_t) { TryHead(); });
        return;
      case HeadResult::kError:
        fe_.framing_errors_++;
        return Refuse(head_.error.status, head_.error.message);
      case HeadResult::kDone:
        break;
    }
    head_text_.assign(bytes.substr(0, head_.head_bytes));
    pos_ += head_.head_bytes;
    req_.remote_addr = remote_;
    req_.received = Clock::now();
    OnHead();
  }

  // Reads what has arrived (up to kReadChunk) onto in_, then calls `next`
  // with the number of bytes read; on EOF, error or deadline, closes
  // (answering 408 when a request had begun).
  template <class Next>
  void ReadMore(Next next) {
    const std::size_t old = in_.size();
    in_.resize(old + kReadChunk);
    stream_.async_read_some(
        asio::buffer(in_.data() + old, kReadChunk),
        [self = Self(), old, next](boost::system::error_code ec, std::size_t n) {
          self->in_.resize(old + n);
          if (self->idle.load(std::memory_order_relaxed)) self->fe_.UnmarkIdle(self.get());
          if (ec) return self->OnReadError(ec);
          next(n);
        });
  }

  void OnReadError(boost::system::error_code) {
    if (timed_out_ && state_ != State::kClosed) {
      fe_.timeouts_++;
      // A request had begun (part of a head, or a body): say why it ends.
      // Not over TLS, whose stream is unusable after a cancelled read.
      const bool begun = (state_ == State::kHead && head_started_ && pos_ < in_.size()) ||
                         state_ == State::kBody;
      if (begun && !std::is_same_v<Stream, TlsStream>)
        return Refuse(408, "request not received in time");
    }
    Close();
  }

  // --- A complete head: admit, then maybe read the body ----------------

  void OnHead() {
    Service::Admission next = Service::Admission::kHandle;
    try {
      next = listener_.options.service->Admit(req_, res_);
    } catch (const std::exception& e) {
      LogError(listener_.options.name + ": admitting " + req_.method + " " +
               req_.target.substr(0, 256) + ": " + e.what());
      res_ = Response();
      return Refuse(500, "internal error");
    }
    const bool has_body = head_.framing.HasBody();
    on_loop_ = next == Service::Admission::kReadBodyOnLoop;
    switch (next) {
      case Service::Admission::kAnswered:
        body_unread_ = has_body;
        return Respond();
      case Service::Admission::kHandle:
        body_unread_ = has_body;
        return Dispatch();
      case Service::Admission::kReadBodyOnLoop:
      case Service::Admission::kReadBody:
        if (!has_body) return Dispatch();
        break;
    }
    if (!head_.framing.chunked) {
      if (head_.framing.length > limits_.max_body_bytes) {
        body_unread_ = true;
        return Refuse(413, "request body too large: the limit is " +
                               std::to_string(limits_.max_body_bytes) + " bytes");
      }
      if (!Reserve(head_.framing.length)) return RefuseBudget();
    }
    body_.emplace(head_text_, limits_.max_body_bytes);
    state_ = State::kBody;
    body_start_ = Clock::now();
    if (head_.expect_continue && pos_ == in_.size()) {
      // The client waits for this before it sends the body.
      interim_ = "HTTP/1.1 100 Continue\r\n\r\n";
      ExpireAfter(limits_.write_timeout);
      asio::async_write(stream_, asio::buffer(interim_),
                        [self = Self()](boost::system::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          self->FeedBody();
                        });
      return;
    }
    FeedBody();
  }

  bool Reserve(std::size_t bytes) {
    if (!fe_.ReserveBody(bytes)) return false;
    budget_ += bytes;
    return true;
  }

  void RefuseBudget() {
    fe_.budget_refusals_++;
    body_unread_ = true;
    res_ = Response();
    res_.set_header("Retry-After", "1");
    return Refuse(503, "server busy: too many request bodies in flight, retry later");
  }

  void FeedBody() {
    const std::size_t before = body_->received();
    pos_ += body_->Feed(std::string_view(in_.data() + pos_, in_.size() - pos_));
    if (head_.framing.chunked) {
      const std::size_t grew = body_->received() - before;
      if (grew > 0 && !Reserve(grew)) return RefuseBudget();
    }
    switch (body_->state()) {
      case BodyReader::kDone:
        req_.body = body_->Take();
        body_.reset();
        return Dispatch();
      case BodyReader::kTooLarge:
        body_unread_ = true;
        return Refuse(413, "request body too large: the limit is " +
                               std::to_string(limits_.max_body_bytes) + " bytes");
      case BodyReader::kBroken:
        body_unread_ = true;
        return Refuse(400, "request body ended early or is malformed");
      case BodyReader::kNeedMore:
        break;
    }
    // Everything buffered was consumed: read on, at no less than the
    // minimum rate (the deadline moves with each chunk received).
    in_.clear();
    pos_ = 0;
    const std::size_t expected =
        head_.framing.chunked ? body_->received() + kReadChunk
                              : static_cast<std::size_t>(head_.framing.length);
    ExpireAt(body_start_ + limits_.body_timeout +
             TimeFor(expected, limits_.body_min_rate));
    ReadMore([this](std::size_t) { FeedBody(); });
  }

  // --- The hop to a worker and back --------------------------------------

  void Dispatch() {
    state_ = State::kHandling;
    ClearDeadline();
    if (on_loop_) {
      on_loop_ = false;
      return RunHandler(Self(), true);
    }
    asio::post(*listener_.workers, [self = Self()] { RunHandler(self, false); });
  }

  // On a worker, or on the loop for a handler admitted to run there.
  static void RunHandler(const std::shared_ptr<Connection>& self, bool on_loop) {
    self->epoch_ = WaitQueue::Epoch();  // before the handler checks what it may park on
    try {
      self->listener_.options.service->Handle(self->req_, self->res_);
    } catch (const std::exception& e) {
      LogError(self->listener_.options.name + ": " + self->req_.method + " " +
               self->req_.target.substr(0, 256) + ": " + e.what());
      // A handler that deferred its answer before it threw still
      // completes it; it is not replaced.
      if (!self->res_.deferral) {
        self->res_ = Response();
        self->res_.status = 500;
        self->res_.set_content("internal error\n", "text/plain; charset=utf-8");
      }
    }
    if (std::shared_ptr<Deferral> deferral = self->res_.deferral) {
      // The answer is filled in elsewhere: whichever of this worker and
      // that thread arrives second takes the response back to the loop.
      deferral->set_resume([self] {
        asio::post(self->stream_.get_executor(), [self] { self->AfterHandle(false); });
      });
      deferral->Arrive();
      return;
    }
    if (on_loop) return self->AfterHandle(false);
    asio::post(self->stream_.get_executor(), [self] { self->AfterHandle(false); });
  }

  // Back on the loop after Handle or a resume: answer, or park (a handler
  // waiting for an event). `final`: the handler was told to answer now.
  void AfterHandle(bool final) {
    res_.deferral.reset();
    if (res_.parked && !final && !fe_.stopping()) return Park();
    res_.parked.reset();
    ReleaseBudget();
    Respond();
  }

  // The request waits for its queue or its deadline on the loop, without a
  // worker (net/wait_queue.h).
  void Park() {
    parked_ = std::move(res_.parked);
    state_ = State::kParked;
    ReleaseBudget();  // the body, if any, has been used
    park_token_ = std::make_shared<char>(0);
    std::weak_ptr<ConnectionBase> weak = weak_from_this();
    auto executor = stream_.get_executor();
    parked_->queue->Add(park_token_, [weak, executor] {
      asio::post(executor, [weak] {
        if (auto conn = weak.lock()) static_cast<Connection*>(conn.get())->Wake(false);
      });
    }, epoch_);
    ExpireAt(parked_->until);
  }

  void Wake(bool final) {
    if (state_ != State::kParked) return;
    park_token_.reset();
    ClearDeadline();
    state_ = State::kHandling;
    final = final || fe_.stopping();
    asio::post(*listener_.workers, [self = Self(), parked = std::move(parked_), final] {
      self->epoch_ = WaitQueue::Epoch();  // before resume checks again
      try {
        parked->resume(self->res_, final);
      } catch (const std::exception& e) {
        LogError(self->listener_.options.name + ": resuming " + self->req_.target.substr(0, 256) +
                 ": " + e.what());
        self->res_ = Response();
        self->res_.status = 500;
        self->res_.set_content("internal error\n", "text/plain; charset=utf-8");
      }
      asio::post(self->stream_.get_executor(), [self, final] { self->AfterHandle(final); });
    });
  }

  void ReleaseBudget() {
    if (budget_ == 0) return;
    fe_.ReleaseBody(budget_);
    budget_ = 0;
  }

  // --- Answers -------------------------------------------------------------

  void Refuse(int status, const std::string& message) {
    ReleaseBudget();
    res_.status = status;
    res_.body = message + "\n";
    res_.provider = nullptr;
    res_.set_header("Content-Type", "text/plain; charset=utf-8");
    close_after_ = true;
    if (!head_started_) start_ = Clock::now();
    Respond();
  }

  void Respond() {
    state_ = State::kWriting;
    ++served_;
    close_after_ = close_after_ || body_unread_ || res_.close ||
                   head_.kind != HeadResult::kDone || !head_.keep_alive ||
                   served_ >= limits_.max_requests || fe_.stopping();
    out_ = SerializeHead(req_, res_, close_after_, HttpDate());
    const bool bodyless = req_.IsHead() || res_.status == 204 || res_.status == 304;
    if (res_.provider && !bodyless) {
      Write(std::move(out_), [this] { NextChunk(); });
      return;
    }
    if (!bodyless) {
      if (res_.body.size() < 16384) {
        out_ += res_.body;  // one write for small answers
      } else {
        WriteTwo();
        return;
      }
    }
    Write(std::move(out_), [this] { Finish(); });
  }

  // Head and a large body in one gathered write, without copying the body.
  void WriteTwo() {
    const std::size_t total = out_.size() + res_.body.size();
    ExpireAfter(limits_.write_timeout + TimeFor(total, limits_.body_min_rate));
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out_), asio::buffer(res_.body)};
    asio::async_write(stream_, bufs,
                      [self = Self()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->WriteFailed(ec);
                        self->Finish();
                      });
  }

  template <class Then>
  void Write(std::string data, Then then) {
    pending_ = std::move(data);
    ExpireAfter(limits_.write_timeout + TimeFor(pending_.size(), limits_.body_min_rate));
    asio::async_write(stream_, asio::buffer(pending_),
                      [self = Self(), then](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->WriteFailed(ec);
                        then();
                      });
  }

  void WriteFailed(boost::system::error_code) {
    if (timed_out_) fe_.timeouts_++;
    if (stream_sink_) stream_sink_->Fail();
    Close();
  }

  // A streamed answer: the provider runs on a worker, a call at a time;
  // what it writes is queued (StreamSink) and sent from the loop.
  // Holds the connection weakly: the connection owns its sink, and a
  // reference back would keep both alive after the client left.
  class StreamSink final : public Sink {
   public:
    explicit StreamSink(std::weak_ptr<Connection> conn) : conn_(std::move(conn)) {}
    bool write(const char* data, std::size_t size) override {
      if (failed_) return false;
      AppendChunk(queued_, std::string_view(data, size));
      if (queued_.size() >= kStreamFlushBytes) return Flush();
      return true;
    }
    void done() override { done_ = true; }

    // Waits (on the worker) until the loop wrote what is queued; a push-style
    // provider (a snapshot export) is held back to the client's pace here.
    bool Flush() {
      if (queued_.empty()) return !failed_;
      std::shared_ptr<Connection> conn = conn_.lock();
      if (!conn) {
        failed_ = true;
        return false;
      }
      std::promise<bool> written;
      auto result = written.get_future();
      asio::post(conn->stream_.get_executor(),
                 [conn, data = std::move(queued_), &written]() mutable {
                   if (conn->state_ == State::kClosed) return written.set_value(false);
                   conn->flush_promise_ = &written;
                   conn->Write(std::move(data), [conn] {
                     auto* p = conn->flush_promise_;
                     conn->flush_promise_ = nullptr;
                     p->set_value(true);
                   });
                 });
      conn.reset();
      queued_.clear();
      if (!result.get()) failed_ = true;
      return !failed_;
    }
    void Fail() { failed_ = true; }

    std::weak_ptr<Connection> conn_;
    std::string queued_;
    std::atomic<bool> failed_{false};
    bool done_ = false;
  };

  void NextChunk() {
    state_ = State::kHandling;
    ClearDeadline();
    if (!stream_sink_) stream_sink_ = std::make_shared<StreamSink>(Self());  // held weakly
    asio::post(*listener_.workers, [self = Self(), sink = stream_sink_] {
      bool ok = false;
      try {
        ok = self->res_.provider(*sink);
      } catch (const std::exception& e) {
        LogError(self->listener_.options.name + ": streaming " + self->req_.target.substr(0, 256) +
                 ": " + e.what());
      }
      std::string data = std::move(sink->queued_);
      sink->queued_.clear();
      const bool done = ok && sink->done_;
      if (done) data += "0\r\n\r\n";
      asio::post(self->stream_.get_executor(), [self, data = std::move(data), ok, done]() mutable {
        if (!ok || self->state_ == State::kClosed) {
          // Cut short: no last chunk, so the client sees an error.
          self->stream_sink_.reset();
          return self->Close();
        }
        self->state_ = State::kWriting;
        self->Write(std::move(data), [self, done] {
          if (!done) return self->NextChunk();
          self->stream_sink_.reset();
          self->Finish();
        });
      });
    });
  }

  // The answer is out: log it, then the next request, or close.
  void Finish() {
    listener_.options.service->Finished(req_, res_, Clock::now() - start_);
    if (!close_after_) return ReadRequest();
    if (body_unread_ || head_.kind == HeadResult::kError) return Linger();
    Shutdown();
  }

  // After an answer that left request bytes unread: stop sending, read and
  // drop what the client still sends (bounded), so the client reads our
  // answer instead of a reset; the dropped bytes are never parsed.
  void Linger() {
    state_ = State::kClosing;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Shutdown();
    } else {
      boost::system::error_code ec;
      Socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      ExpireAfter(limits_.linger);
      in_.clear();
      pos_ = 0;
      Drain();
    }
  }

  void Drain() {
    if (lingered_ >= limits_.linger_bytes) return Close();
    in_.resize(kReadChunk);
    stream_.async_read_some(asio::buffer(in_.data(), kReadChunk),
                            [self = Self()](boost::system::error_code ec, std::size_t n) {
                              if (ec) return self->Close();
                              self->lingered_ += n;
                              self->Drain();
                            });
  }

  void Shutdown() {
    state_ = State::kClosing;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      ExpireAfter(limits_.linger);
      stream_.async_shutdown([self = Self()](boost::system::error_code) { self->Close(); });
    } else {
      Close();
    }
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    if (idle.load(std::memory_order_relaxed)) fe_.UnmarkIdle(this);
    if (flush_promise_ != nullptr) {
      auto* p = flush_promise_;
      flush_promise_ = nullptr;
      p->set_value(false);
    }
    ClearDeadline();
    boost::system::error_code ec;
    Socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  const ConnectionLimits limits_;
  std::unique_ptr<asio::ssl::context> ssl_;  // before stream_, which uses it
  Stream stream_;
  asio::steady_timer timer_;
  std::uint64_t deadline_ = 0;  // generation: a stale expiry does nothing
  bool timed_out_ = false;
  std::string remote_;
  State state_ = State::kHead;

  std::string in_;       // bytes received, from pos_ not yet consumed
  std::size_t pos_ = 0;
  Request req_;
  Response res_;
  HeadResult head_;
  std::string head_text_;
  std::optional<BodyReader> body_;
  std::size_t budget_ = 0;  // body bytes reserved in the front end's budget
  bool head_started_ = false;
  bool body_unread_ = false;
  bool close_after_ = false;
  bool closing_idle_ = false;
  std::size_t served_ = 0;
  std::size_t lingered_ = 0;
  Clock::time_point start_;
  Clock::time_point body_start_;

  std::string out_;
  std::string pending_;
  std::string interim_;
  std::shared_ptr<StreamSink> stream_sink_;
  std::promise<bool>* flush_promise_ = nullptr;
  std::shared_ptr<Parked> parked_;   // while kParked
  bool on_loop_ = false;  // this request's Handle runs on the loop (kReadBodyOnLoop)
  std::shared_ptr<char> park_token_;  // alive while parked: the queue's waiter counts
  std::uint64_t epoch_ = 0;           // WaitQueue::Epoch() before the handler last ran
};

void StartConnection(FrontEnd& fe, FrontEnd::ListenerState& listener,
                     asio::ip::tcp::socket socket) {
  std::shared_ptr<ConnectionBase> conn;
  if (listener.options.tls) {
    std::shared_ptr<SSL_CTX> ctx = listener.options.tls->ForNewConnection();
    // asio's context takes ownership of one reference.
    SSL_CTX_up_ref(ctx.get());
    auto ssl = std::make_unique<asio::ssl::context>(ctx.get());
    conn = std::make_shared<Connection<TlsStream>>(fe, listener, std::move(socket),
                                                   std::move(ssl));
  } else {
    conn = std::make_shared<Connection<PlainStream>>(fe, listener, std::move(socket),
                                                     nullptr);
  }
  // Started on its own loop: the acceptor's loop may be another thread.
  asio::post(conn->executor(), [conn] { conn->Start(); });
}

}  // namespace mehdbd::net
