#include "pgwarden/wire/replication_stream.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace pgw::wire {

namespace {
uint64_t read_u64(std::string_view s, size_t at) {
  if (s.size() < at + 8) return 0;
  return (uint64_t{read_u32(s.data() + at)} << 32) | read_u32(s.data() + at + 4);
}

// PostgreSQL's parse_bool_with_len: any case, unique prefixes ("of" and "on"
// need two letters).
int parse_pg_bool(std::string_view v) {
  std::string l(v);
  for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto prefix_of = [&](std::string_view word) {
    return !l.empty() && l.size() <= word.size() && word.substr(0, l.size()) == l;
  };
  if (l.empty()) return -1;
  if (prefix_of("true") || prefix_of("yes") || l == "1") return 1;
  if (prefix_of("false") || prefix_of("no") || l == "0") return 0;
  if (l == "on") return 1;
  if (l == "of" || l == "off") return 0;
  return -1;
}
}  // namespace

ReplicationMode parse_replication_mode(std::string_view value) {
  if (value == "database") return ReplicationMode::logical;
  switch (parse_pg_bool(value)) {
    case 1:
      return ReplicationMode::physical;
    case 0:
      return ReplicationMode::none;
    default:
      return ReplicationMode::invalid;
  }
}

const char* to_string(ReplicationMode m) {
  switch (m) {
    case ReplicationMode::none:
      return "";
    case ReplicationMode::physical:
      return "physical";
    case ReplicationMode::logical:
      return "database";
    case ReplicationMode::invalid:
      return "invalid";
  }
  return "";
}

const char* to_string(ReplicationPhase p) {
  switch (p) {
    case ReplicationPhase::commands:
      return "commands";
    case ReplicationPhase::copy_both:
      return "streaming";
    case ReplicationPhase::copy_out:
      return "copy_out";
    case ReplicationPhase::ended:
      return "ended";
  }
  return "unknown";
}

std::string format_lsn(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

void ReplicationObserver::on_client_bytes(std::string_view data, int64_t now_ns) {
  s_.bytes_from_client += data.size();
  client_.feed(data, [&](const FrameScanner::Message& m) { on_client_message(m, now_ns); });
}

void ReplicationObserver::on_server_bytes(std::string_view data, int64_t now_ns) {
  s_.bytes_from_server += data.size();
  server_.feed(data, [&](const FrameScanner::Message& m) { on_server_message(m, now_ns); });
  s_.server_at_boundary = server_.at_boundary();
}

void ReplicationObserver::on_client_message(const FrameScanner::Message& m, int64_t now_ns) {
  ++s_.messages_from_client;
  s_.last_client_message_ns = now_ns;
  switch (m.type) {
    case 'Q':
      ++s_.commands;
      break;
    case 'X':
      s_.client_terminated = true;
      break;
    case 'd':
      // Standby status update: 'r', write, flush, apply (int64 each), clock, reply.
      if (!m.head.empty() && m.head[0] == 'r' && m.head.size() >= 25) {
        ++s_.status_updates;
        s_.write_lsn = read_u64(m.head, 1);
        s_.flush_lsn = read_u64(m.head, 9);
        s_.apply_lsn = read_u64(m.head, 17);
      }
      break;
    default:
      break;
  }
}

void ReplicationObserver::on_server_message(const FrameScanner::Message& m, int64_t now_ns) {
  ++s_.messages_from_server;
  s_.last_server_message_ns = now_ns;
  switch (m.type) {
    case 'W':
      if (s_.phase != ReplicationPhase::ended) s_.phase = ReplicationPhase::copy_both;
      break;
    case 'H':
      if (s_.phase != ReplicationPhase::ended) s_.phase = ReplicationPhase::copy_out;
      break;
    case 'Z':
      // After CopyDone (a timeline's end) or any command: commands again.
      if (s_.phase != ReplicationPhase::ended) s_.phase = ReplicationPhase::commands;
      break;
    case 'd':
      if (m.head.empty()) break;
      if (m.head[0] == 'w' && m.head.size() >= 25) {
        // XLogData: 'w', start, end of WAL on the server, clock, then WAL.
        ++s_.xlog_messages;
        s_.wal_start = read_u64(m.head, 1);
        s_.server_wal_end = std::max(s_.server_wal_end, read_u64(m.head, 9));
      } else if (m.head[0] == 'k' && m.head.size() >= 18) {
        // Primary keepalive: 'k', end of WAL, clock, reply requested.
        ++s_.keepalives;
        s_.server_wal_end = std::max(s_.server_wal_end, read_u64(m.head, 1));
        if (m.head[17] != 0) ++s_.keepalive_replies_requested;
      }
      break;
    case 'E': {
      ErrorFields e;
      if (parse_error_fields(m.head, e)) {
        s_.last_server_error = e;
        if (e.severity == "FATAL" || e.severity == "PANIC") {
          s_.server_fatal = true;
          s_.phase = ReplicationPhase::ended;
        }
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace pgw::wire
