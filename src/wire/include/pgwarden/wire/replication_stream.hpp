#pragma once
// A replication connection (replication=database or physical) as seen on the
// wire: a pure observer fed every byte pgwarden forwards in either direction.
// No sockets, no clocks: the caller passes the time. It tracks the phase
// (replication commands, CopyBoth streaming, CopyOut as BASE_BACKUP sends it,
// ended), bytes and messages each way, when the server last spoke, the WAL
// positions of XLogData ('w') and primary keepalives ('k'), and the
// write/flush/apply LSNs of the client's standby status updates ('r').
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgwarden/wire/codec.hpp"

namespace pgw::wire {

// The startup parameter `replication`, as PostgreSQL reads it: "database"
// is a logical (walsender with a database) connection; its boolean spellings
// (true/on/yes/1 and their unique prefixes, any case) are physical; the false
// ones are a normal connection.
enum class ReplicationMode { none, physical, logical, invalid };
ReplicationMode parse_replication_mode(std::string_view value);
const char* to_string(ReplicationMode m);  // "", "physical", "database", "invalid"

enum class ReplicationPhase { commands, copy_both, copy_out, ended };
const char* to_string(ReplicationPhase p);  // commands, streaming, copy_out, ended

// "16/B374D848", as PostgreSQL prints an LSN.
std::string format_lsn(uint64_t lsn);

struct ReplicationStats {
  ReplicationPhase phase = ReplicationPhase::commands;
  uint64_t bytes_from_client = 0, bytes_from_server = 0;
  uint64_t messages_from_client = 0, messages_from_server = 0;
  uint64_t commands = 0;               // simple Query messages (replication commands)
  int64_t last_server_message_ns = 0;  // caller's clock; 0 = none yet
  int64_t last_client_message_ns = 0;
  // XLogData: the last one's start, and the end of WAL on the server as the
  // last XLogData or keepalive reported it.
  uint64_t xlog_messages = 0;
  uint64_t wal_start = 0;  // the start of the last XLogData's WAL
  uint64_t server_wal_end = 0;
  uint64_t keepalives = 0;
  uint64_t keepalive_replies_requested = 0;
  // Standby status updates from the client.
  uint64_t status_updates = 0;
  uint64_t write_lsn = 0, flush_lsn = 0, apply_lsn = 0;
  // FATAL/PANIC (or ERROR) the server sent: what its end is named after.
  bool server_fatal = false;
  ErrorFields last_server_error;
  bool client_terminated = false;  // the client sent Terminate ('X')
  // Bytes from the server that complete no message yet (a frame in flight).
  bool server_at_boundary = true;
  // Lag in bytes: the server's WAL end minus the client's flush LSN (0 when
  // either is unknown or the client is ahead).
  uint64_t lag_bytes() const {
    if (server_wal_end == 0 || flush_lsn == 0 || flush_lsn >= server_wal_end) return 0;
    return server_wal_end - flush_lsn;
  }
};

// Splits a byte stream into typed messages without holding them: keeps the
// 5-byte header and the first `keep` bytes of each body (all of an
// ErrorResponse/NoticeResponse, up to 8 KiB), skips the rest.
class FrameScanner {
 public:
  struct Message {
    char type = 0;
    uint32_t length = 0;  // body length
    std::string head;     // the first bytes of the body
  };
  // Consumes `data`, calling `on(const Message&)` for each complete message.
  template <class F>
  void feed(std::string_view data, F&& on) {
    while (!data.empty()) {
      if (hdr_.size() < 5) {
        const size_t n = std::min(data.size(), 5 - hdr_.size());
        hdr_.append(data.substr(0, n));
        data.remove_prefix(n);
        if (hdr_.size() < 5) break;
        msg_.type = hdr_[0];
        const uint32_t len = read_u32(hdr_.data() + 1);
        msg_.length = len >= 4 ? len - 4 : 0;
        remaining_ = msg_.length;
        want_ = (msg_.type == 'E' || msg_.type == 'N') ? 8192 : 64;
        msg_.head.clear();
      }
      const size_t n = std::min<size_t>(data.size(), remaining_);
      if (msg_.head.size() < want_)
        msg_.head.append(data.substr(0, std::min(n, want_ - msg_.head.size())));
      data.remove_prefix(n);
      remaining_ -= n;
      if (remaining_ == 0) {
        on(static_cast<const Message&>(msg_));
        hdr_.clear();
      }
    }
  }
  bool at_boundary() const { return hdr_.empty(); }
  // Bytes of the message in progress consumed so far (0 at a boundary).
  uint64_t partial() const {
    return hdr_.size() < 5 ? hdr_.size() : 5 + (msg_.length - remaining_);
  }
  // Bytes of the message in progress still to come (0 at a boundary or in its header).
  uint64_t remaining() const { return hdr_.size() < 5 ? 0 : remaining_; }

 private:
  std::string hdr_;
  Message msg_;
  uint64_t remaining_ = 0;
  size_t want_ = 64;
};

class ReplicationObserver {
 public:
  void on_client_bytes(std::string_view data, int64_t now_ns);
  void on_server_bytes(std::string_view data, int64_t now_ns);
  // The connection ended (either side): the phase becomes ended.
  void on_end() { s_.phase = ReplicationPhase::ended; }
  const ReplicationStats& stats() const { return s_; }
  // The whole message in progress from the server, if any, still to come.
  bool server_at_boundary() const { return server_.at_boundary(); }
  uint64_t server_partial() const { return server_.partial(); }

 private:
  void on_client_message(const FrameScanner::Message& m, int64_t now_ns);
  void on_server_message(const FrameScanner::Message& m, int64_t now_ns);
  FrameScanner client_, server_;
  ReplicationStats s_;
};

}  // namespace pgw::wire
