// SPDX-License-Identifier: MIT
//
// Implementation of connection_gate.h.
#include "http/connection_gate.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>
#include <utility>
#include <vector>

namespace mehdbd::http {
namespace {

constexpr std::string_view k408 =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
    "Content-Length: 27\r\nConnection: close\r\n\r\n"
    "request head took too long\n";
constexpr std::string_view k431 =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 30\r\nConnection: close\r\n\r\n"
    "request head over 16384 bytes\n";

bool TooLarge(const std::string& buffered) {
  return buffered.size() >= kMaxRequestHeadBytes && !HasRequestHead(buffered);
}

}  // namespace

ConnectionGate::ConnectionGate(std::chrono::milliseconds idle_timeout,
                               std::chrono::milliseconds head_timeout,
                               Dispatch dispatch)
    : idle_timeout_(idle_timeout),
      head_timeout_(head_timeout),
      dispatch_(std::move(dispatch)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  poller_ = std::thread([this] { Loop(); });
}

ConnectionGate::~ConnectionGate() {
  Shutdown();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ConnectionGate::Add(PendingConnection conn) {
  std::unique_lock<std::mutex> lock(mutex_);
  const int fd = conn.sock;
  if (!shut_ && HasRequestHead(conn.buffered)) {
    lock.unlock();
    dispatch_(std::move(conn));
    return;
  }
  if (TooLarge(conn.buffered)) {
    (void)::send(fd, k431.data(), k431.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    CloseConnection(fd);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (shut_ || epoll_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    CloseConnection(fd);
    return;
  }
  // Pipelined bytes mean a head has begun: it gets the head deadline.
  const auto wait = conn.buffered.empty() ? idle_timeout_ : head_timeout_;
  waiting_[fd] = Entry{std::move(conn), Clock::now() + wait};
}

void ConnectionGate::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_) return;
    shut_ = true;
    for (auto& [fd, entry] : waiting_) CloseConnection(fd);
    waiting_.clear();
  }
  if (poller_.joinable()) poller_.join();
}

std::size_t ConnectionGate::Waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

void ConnectionGate::DropLocked(int fd, std::string_view answer) {
  (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // Best effort: a client that sent part of a head learns why it is cut off.
  if (!answer.empty())
    (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  CloseConnection(fd);
  waiting_.erase(fd);
}

bool ConnectionGate::ReadInto(Entry& entry, bool& closed) {
  PendingConnection& conn = entry.conn;
  std::array<char, 4096> chunk;
  while (conn.buffered.size() < kMaxRequestHeadBytes) {
    const ssize_t n =
        ::recv(conn.sock, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      // A client may send a request and then shut its side (half-close):
      // it still gets its answer. Otherwise it left, or the connection failed.
      if (HasRequestHead(conn.buffered)) return true;
      closed = true;
      return false;
    }
    if (conn.buffered.empty()) entry.deadline = Clock::now() + head_timeout_;
    conn.buffered.append(chunk.data(), static_cast<std::size_t>(n));
  }
  return HasRequestHead(conn.buffered);
}

void ConnectionGate::Loop() {
  if (epoll_fd_ < 0) return;
  std::array<epoll_event, 64> events;
  std::vector<PendingConnection> ready;
  while (true) {
    // Short slices so deadlines are checked and Shutdown() is noticed.
    const int n = ::epoll_wait(epoll_fd_, events.data(),
                               static_cast<int>(events.size()), 100);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (shut_) return;
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        auto it = waiting_.find(fd);
        if (it == waiting_.end()) continue;
        bool closed = false;
        // A TLS connection is ready as soon as anything arrived (or the
        // client left): the worker's handshake reads it.
        if (it->second.conn.tls || ReadInto(it->second, closed)) {
          (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
          ready.push_back(std::move(it->second.conn));
          waiting_.erase(it);
        } else if (closed) {
          DropLocked(fd, {});
        } else if (TooLarge(it->second.conn.buffered)) {
          DropLocked(fd, k431);
        }
      }
      const auto now = Clock::now();
      std::vector<std::pair<int, bool>> expired;
      for (const auto& [fd, entry] : waiting_)
        if (entry.deadline <= now) expired.emplace_back(fd, !entry.conn.buffered.empty());
      for (const auto& [fd, partial] : expired) DropLocked(fd, partial ? k408 : std::string_view());
    }
    // Outside the lock: dispatch may run the connection's request inline.
    for (auto& conn : ready) dispatch_(std::move(conn));
    ready.clear();
  }
}

}  // namespace mehdbd::http
