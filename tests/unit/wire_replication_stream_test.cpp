// The replication stream observer, state by state: the startup parameter,
// framing across arbitrary splits, phases, WAL positions, keepalives, standby
// status updates, lag and the server's FATAL.
#include <gtest/gtest.h>

#include "pgwarden/wire/codec.hpp"
#include "pgwarden/wire/replication_stream.hpp"

using namespace pgw::wire;

namespace {

std::string typed(char type, std::string body = {}) {
  std::string m;
  m.push_back(type);
  put_u32(m, static_cast<uint32_t>(body.size() + 4));
  return m + body;
}
void put_u64(std::string& out, uint64_t v) {
  put_u32(out, static_cast<uint32_t>(v >> 32));
  put_u32(out, static_cast<uint32_t>(v));
}
std::string xlog_data(uint64_t start, uint64_t end, std::string wal) {
  std::string b = "w";
  put_u64(b, start);
  put_u64(b, end);
  put_u64(b, 0);
  return typed('d', b + wal);
}
std::string keepalive(uint64_t end, bool reply) {
  std::string b = "k";
  put_u64(b, end);
  put_u64(b, 0);
  b.push_back(reply ? 1 : 0);
  return typed('d', b);
}
std::string status_update(uint64_t write, uint64_t flush, uint64_t apply) {
  std::string b = "r";
  put_u64(b, write);
  put_u64(b, flush);
  put_u64(b, apply);
  put_u64(b, 0);
  b.push_back(0);
  return typed('d', b);
}
std::string fatal(const char* sqlstate, const char* message) {
  std::string out;
  error_response(out, {"FATAL", sqlstate, message});
  return out;
}

}  // namespace

TEST(ReplicationMode, AsPostgresReadsTheStartupParameter) {
  EXPECT_EQ(parse_replication_mode("database"), ReplicationMode::logical);
  for (const char* v : {"true", "on", "yes", "1", "TRUE", "t", "tr", "y", "On"})
    EXPECT_EQ(parse_replication_mode(v), ReplicationMode::physical) << v;
  for (const char* v : {"false", "off", "no", "0", "f", "n", "of", "OFF"})
    EXPECT_EQ(parse_replication_mode(v), ReplicationMode::none) << v;
  for (const char* v : {"", "o", "database1", "Database", "2", "maybe"})
    EXPECT_EQ(parse_replication_mode(v), ReplicationMode::invalid) << v;
  EXPECT_STREQ(to_string(ReplicationMode::logical), "database");
  EXPECT_STREQ(to_string(ReplicationMode::physical), "physical");
}

TEST(ReplicationLsn, PrintedAsPostgresDoes) {
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(format_lsn((uint64_t{0x16} << 32) | 0xB374D848), "16/B374D848");
}

TEST(FrameScanner, MessagesSplitAnywhereAreSeenOnceEach) {
  const std::string stream = typed('Q', std::string("IDENTIFY_SYSTEM") + '\0') +
                             xlog_data(0x100, 0x200, "abc") + typed('c');
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameScanner sc;
    std::string types;
    std::vector<uint32_t> lengths;
    auto on = [&](const FrameScanner::Message& m) {
      types.push_back(m.type);
      lengths.push_back(m.length);
    };
    sc.feed(std::string_view(stream).substr(0, cut), on);
    sc.feed(std::string_view(stream).substr(cut), on);
    EXPECT_EQ(types, "Qdc") << cut;
    EXPECT_EQ(lengths, (std::vector<uint32_t>{16, 28, 0})) << cut;
    EXPECT_TRUE(sc.at_boundary());
  }
  FrameScanner sc;
  sc.feed(stream.substr(0, 3), [](const auto&) {});
  EXPECT_FALSE(sc.at_boundary());
}

TEST(FrameScanner, KeepsOnlyTheHeadOfLargeMessages) {
  FrameScanner sc;
  std::string head;
  sc.feed(typed('d', std::string(100000, 'x')), [&](const auto& m) { head = m.head; });
  EXPECT_EQ(head.size(), 64u);
}

TEST(ReplicationObserver, CommandsThenStreamingThenEnded) {
  ReplicationObserver o;
  EXPECT_EQ(o.stats().phase, ReplicationPhase::commands);
  const std::string q = typed('Q', std::string("IDENTIFY_SYSTEM") + '\0');
  o.on_client_bytes(q, 10);
  EXPECT_EQ(o.stats().commands, 1u);
  EXPECT_EQ(o.stats().messages_from_client, 1u);
  EXPECT_EQ(o.stats().bytes_from_client, q.size());
  o.on_server_bytes(typed('T', "..") + typed('D', "..") + typed('C', "x") + typed('Z', "I"), 20);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::commands);
  EXPECT_EQ(o.stats().messages_from_server, 4u);
  EXPECT_EQ(o.stats().last_server_message_ns, 20);
  // START_REPLICATION: CopyBothResponse, then XLogData and keepalives.
  o.on_server_bytes(typed('W', std::string("\0\0\0", 3)), 30);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::copy_both);
  o.on_server_bytes(xlog_data(0x1000, 0x1800, "BEGIN"), 40);
  EXPECT_EQ(o.stats().xlog_messages, 1u);
  EXPECT_EQ(o.stats().wal_start, 0x1000u);
  EXPECT_EQ(o.stats().server_wal_end, 0x1800u);
  o.on_server_bytes(keepalive(0x2000, true), 50);
  EXPECT_EQ(o.stats().keepalives, 1u);
  EXPECT_EQ(o.stats().keepalive_replies_requested, 1u);
  EXPECT_EQ(o.stats().server_wal_end, 0x2000u);
  EXPECT_EQ(o.stats().lag_bytes(), 0u);  // no status update yet
  o.on_client_bytes(status_update(0x1900, 0x1800, 0x1700), 60);
  EXPECT_EQ(o.stats().status_updates, 1u);
  EXPECT_EQ(o.stats().write_lsn, 0x1900u);
  EXPECT_EQ(o.stats().flush_lsn, 0x1800u);
  EXPECT_EQ(o.stats().apply_lsn, 0x1700u);
  EXPECT_EQ(o.stats().lag_bytes(), 0x800u);
  EXPECT_EQ(o.stats().last_client_message_ns, 60);
  // A keepalive never moves the WAL end backwards.
  o.on_server_bytes(keepalive(0x1000, false), 70);
  EXPECT_EQ(o.stats().server_wal_end, 0x2000u);
  // The client's CopyDone, the server's, then ReadyForQuery: commands again.
  o.on_client_bytes(typed('c'), 80);
  o.on_server_bytes(typed('c') + typed('C', "x") + typed('Z', "I"), 90);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::commands);
  o.on_client_bytes(typed('X'), 100);
  EXPECT_TRUE(o.stats().client_terminated);
  o.on_end();
  EXPECT_EQ(o.stats().phase, ReplicationPhase::ended);
}

TEST(ReplicationObserver, BaseBackupIsCopyOut) {
  ReplicationObserver o;
  o.on_server_bytes(typed('H', std::string("\0\0\0", 3)), 1);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::copy_out);
  o.on_server_bytes(typed('d', "n" + std::string(100, 'x')), 2);
  EXPECT_EQ(o.stats().xlog_messages, 0u);
  o.on_server_bytes(typed('c') + typed('Z', "I"), 3);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::commands);
}

TEST(ReplicationObserver, ServerFatalEndsTheStreamAndIsKept) {
  ReplicationObserver o;
  o.on_server_bytes(typed('W', std::string("\0\0\0", 3)), 1);
  const std::string f = fatal("57P01", "terminating connection due to administrator command");
  o.on_server_bytes(f.substr(0, 7), 2);
  EXPECT_FALSE(o.stats().server_at_boundary);
  EXPECT_FALSE(o.stats().server_fatal);
  o.on_server_bytes(f.substr(7), 3);
  EXPECT_TRUE(o.stats().server_at_boundary);
  EXPECT_TRUE(o.stats().server_fatal);
  EXPECT_EQ(o.stats().phase, ReplicationPhase::ended);
  EXPECT_EQ(o.stats().last_server_error.sqlstate, "57P01");
  EXPECT_EQ(o.stats().last_server_error.message,
            "terminating connection due to administrator command");
  // An ERROR (a slot in use) is kept but ends nothing.
  ReplicationObserver e;
  std::string err;
  error_response(err, {"ERROR", "55006", "replication slot \"s\" is active for PID 7"});
  e.on_server_bytes(err, 1);
  EXPECT_FALSE(e.stats().server_fatal);
  EXPECT_EQ(e.stats().last_server_error.sqlstate, "55006");
  EXPECT_EQ(e.stats().phase, ReplicationPhase::commands);
}
