// SPDX-License-Identifier: MIT
//
// The peer protocol between a leader and its followers: HTTP/1.1 on the
// leader's separate peer port, so long-polls never take client threads.
//
//   GET /v1/replication/log?from=S&history=H&max_bytes=B&wait_ms=W
//       header X-Mehdb-Follower: <pod name>
//     200  body = framed log records S.. (mehdb/replication.h), possibly
//          empty after waiting up to W ms for something new. `from=S` also
//          acknowledges S-1 for that follower, counted for acks=N only
//          when the poll is accepted (same history, S-1 <= the leader's
//          last seq, and the token where auth is on).
//     410  S is older than the retained log: load a snapshot.
//     409  H is not the leader's history, or S-1 is past the leader's last
//          seq (the follower is ahead: the leader lost data or was restored).
//     400  malformed parameters.
//     503  (reason leader-recovering) the leader started on an empty store
//          and is learning followers' positions (history H, S-1, and the
//          X-Mehdb-Peer-Url header) to load the most advanced one's
//          snapshot (leader_recovery.h); poll again shortly.
//   GET /v1/replication/snapshot
//     200  a snapshot stream (mehdb/replication.h), chunked. Followers
//          serve it too, for a recovering leader.
//     503  a recovering leader has nothing to give yet.
//
// Every answer carries the leader's history and retained range in the
// headers below. H may be empty only with S = 1 (a new follower).
#ifndef MEHDBD_REPLICATION_PROTOCOL_H_
#define MEHDBD_REPLICATION_PROTOCOL_H_

namespace mehdbd::replication {

inline constexpr const char* kLogPath = "/v1/replication/log";
inline constexpr const char* kSnapshotPath = "/v1/replication/snapshot";

inline constexpr const char* kHistoryHeader = "X-Mehdb-History";
inline constexpr const char* kFirstSeqHeader = "X-Mehdb-First-Seq";
inline constexpr const char* kLastSeqHeader = "X-Mehdb-Last-Seq";
inline constexpr const char* kFromHeader = "X-Mehdb-From";
inline constexpr const char* kToHeader = "X-Mehdb-To";
inline constexpr const char* kFollowerHeader = "X-Mehdb-Follower";
inline constexpr const char* kReasonHeader = "X-Mehdb-Reason";
// A follower's own peer base URL, where a recovering leader fetches its
// snapshot (sent with polls).
inline constexpr const char* kPeerUrlHeader = "X-Mehdb-Peer-Url";

inline constexpr const char* kReasonHistory = "history-mismatch";
inline constexpr const char* kReasonAhead = "follower-ahead";
inline constexpr const char* kReasonTrimmed = "trimmed";
inline constexpr const char* kReasonRecovering = "leader-recovering";

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_PROTOCOL_H_
