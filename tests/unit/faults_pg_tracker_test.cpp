// PgTracker: what the PostgreSQL-aware toxics know of a connection, from the
// bytes the relay forwards (src/faults/pg_tracker.hpp).
#include <gtest/gtest.h>

#include "pgwarden/faults/pg_tracker.hpp"
#include "pgwarden/wire/codec.hpp"

using pgw::faults::PgTracker;
namespace wire = pgw::wire;

namespace {

std::string login_answer() {
  std::string s;
  wire::auth_ok(s);
  wire::parameter_status(s, "server_version", "15.0");
  wire::backend_key_data(s, 42, 7);
  wire::ready_for_query(s, 'I');
  return s;
}

std::string startup() {
  std::string s;
  wire::startup_message(s, {{"user", "app"}, {"database", "shop"}});
  return s;
}

std::string answer(char status) {
  std::string s;
  wire::command_complete(s, "SELECT 1");
  wire::ready_for_query(s, status);
  return s;
}

}  // namespace

TEST(FaultsPgTracker, FollowsLoginQueriesAndTransactionStatus) {
  PgTracker t;
  EXPECT_EQ(t.phase(), PgTracker::Phase::startup);
  t.from_client(startup());
  EXPECT_EQ(t.phase(), PgTracker::Phase::login);
  EXPECT_EQ(t.user(), "app");
  EXPECT_EQ(t.database(), "shop");
  t.from_server(login_answer());
  EXPECT_EQ(t.phase(), PgTracker::Phase::ready);
  EXPECT_EQ(t.transaction_status(), 'I');
  EXPECT_EQ(t.queries_in_flight(), 0);
  std::string q;
  wire::query(q, "BEGIN");
  t.from_client(q);
  EXPECT_EQ(t.queries_in_flight(), 1);
  t.from_server(answer('T'));
  EXPECT_EQ(t.queries_in_flight(), 0);
  EXPECT_TRUE(t.in_transaction());
  // Extended protocol: one Sync, one ReadyForQuery.
  std::string ext;
  wire::parse(ext, "", std::string("SELECT 1\0\0\0", 11));
  wire::bind(ext, "", "", std::string("\0\0\0\0\0\0", 6));
  wire::execute(ext, "");
  wire::sync(ext);
  t.from_client(ext);
  EXPECT_EQ(t.queries_in_flight(), 1);
  t.from_server(answer('E'));
  EXPECT_EQ(t.transaction_status(), 'E');
  q.clear();
  wire::query(q, "ROLLBACK");
  t.from_client(q);
  t.from_server(answer('I'));
  EXPECT_FALSE(t.in_transaction());
  EXPECT_EQ(t.queries_in_flight(), 0);
}

TEST(FaultsPgTracker, ByteAtATimeGivesTheSameAnswers) {
  PgTracker t;
  std::string c = startup(), s = login_answer(), q;
  wire::query(q, "SELECT pg_sleep(1)");
  for (char b : c) t.from_client(std::string_view(&b, 1));
  for (char b : s) t.from_server(std::string_view(&b, 1));
  EXPECT_EQ(t.transaction_status(), 'I');
  for (char b : q) t.from_client(std::string_view(&b, 1));
  EXPECT_EQ(t.queries_in_flight(), 1);
  // A large DataRow split across chunks is skipped, not held.
  std::string rows;
  wire::data_row(rows, {std::string(100'000, 'x')});
  std::string done = answer('T');
  std::string all = rows + done;
  for (size_t off = 0; off < all.size(); off += 777)
    t.from_server(std::string_view(all).substr(off, 777));
  EXPECT_EQ(t.queries_in_flight(), 0);
  EXPECT_EQ(t.transaction_status(), 'T');
}

TEST(FaultsPgTracker, SslRefusedThenPlainLoginIsFollowedButTlsIsOpaque) {
  std::string ssl;
  wire::put_u32(ssl, 8);
  wire::put_u32(ssl, wire::kSslRequest);
  PgTracker plain;
  plain.from_client(ssl);
  plain.from_server("N");
  plain.from_client(startup());
  plain.from_server(login_answer());
  EXPECT_EQ(plain.phase(), PgTracker::Phase::ready);
  PgTracker tls;
  tls.from_client(ssl);
  tls.from_server("S");
  EXPECT_EQ(tls.phase(), PgTracker::Phase::opaque);
  tls.from_client(startup());
  EXPECT_EQ(tls.transaction_status(), 0);
}

TEST(FaultsPgTracker, BytesThatAreNotPostgresAreOpaque) {
  PgTracker t;
  t.from_client("*1\r\n$4\r\nPING\r\n");  // Redis
  EXPECT_EQ(t.phase(), PgTracker::Phase::opaque);
}

TEST(FaultsPgTracker, CopyBothResponseMarksAReplicationStream) {
  PgTracker t;
  t.from_client(startup());
  t.from_server(login_answer());
  std::string q;
  wire::query(q, "START_REPLICATION SLOT s LOGICAL 0/0");
  t.from_client(q);
  EXPECT_FALSE(t.replication_streaming());
  std::string w = "W";
  wire::put_u32(w, 7);
  w += std::string("\0\0\0", 3);  // text format, no columns
  t.from_server(w);
  EXPECT_TRUE(t.replication_streaming());
}
