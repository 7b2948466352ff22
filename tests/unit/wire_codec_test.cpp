#include <gtest/gtest.h>

#include "pgwarden/wire/codec.hpp"

using namespace pgw::wire;

TEST(Framing, RoundTripsAndSplitsFrames) {
  std::string buf;
  query(buf, "select 1");
  ready_for_query(buf, 'T');
  Frame f;
  ASSERT_EQ(next_frame(buf, 1 << 20, f), FrameStatus::ok);
  EXPECT_EQ(f.type, 'Q');
  EXPECT_EQ(f.body, std::string_view("select 1\0", 9));
  std::string_view rest = std::string_view(buf).substr(f.size);
  ASSERT_EQ(next_frame(rest, 1 << 20, f), FrameStatus::ok);
  EXPECT_EQ(f.type, 'Z');
  EXPECT_EQ(f.body, "T");
  EXPECT_EQ(next_frame(rest.substr(0, 3), 1 << 20, f), FrameStatus::need_more);
}

TEST(Framing, RejectsNegativeAndAbsurdLengths) {
  Frame f;
  std::string neg = std::string("Q") + "\xff\xff\xff\xf0";
  EXPECT_EQ(next_frame(neg, 1 << 20, f), FrameStatus::bad_length);
  std::string small = std::string("Q\0\0\0\x03", 5);
  EXPECT_EQ(next_frame(small, 1 << 20, f), FrameStatus::bad_length);
  std::string huge = std::string("Q\x40\0\0\0", 5);
  EXPECT_EQ(next_frame(huge, 1 << 20, f), FrameStatus::bad_length);
}

TEST(Startup, ParsesParametersAndSpecialRequests) {
  std::string buf;
  startup_message(buf, {{"user", "alice"}, {"database", "app"}});
  StartupPacket p;
  auto r = parse_startup(buf, p);
  ASSERT_EQ(r.status, StartupStatus::ok);
  EXPECT_EQ(r.consumed, buf.size());
  ASSERT_NE(p.param("user"), nullptr);
  EXPECT_EQ(*p.param("user"), "alice");
  EXPECT_EQ(*p.param("database"), "app");

  std::string ssl;
  put_u32(ssl, 8);
  put_u32(ssl, kSslRequest);
  StartupPacket s;
  EXPECT_EQ(parse_startup(ssl, s).status, StartupStatus::ok);
  EXPECT_EQ(s.kind, StartupKind::ssl_request);

  std::string cancel;
  cancel_request(cancel, 42, 0xdeadbeef);
  StartupPacket c;
  ASSERT_EQ(parse_startup(cancel, c).status, StartupStatus::ok);
  EXPECT_EQ(c.kind, StartupKind::cancel);
  EXPECT_EQ(c.cancel_pid, 42u);
  EXPECT_EQ(c.cancel_key, 0xdeadbeefu);
}

TEST(Startup, RejectsBadPackets) {
  StartupPacket p;
  std::string big;
  put_u32(big, 20000);
  put_u32(big, kProtocol3);
  EXPECT_EQ(parse_startup(big, p).status, StartupStatus::bad_length);

  std::string v2;
  put_u32(v2, 8);
  put_u32(v2, 0x00020000);
  auto r = parse_startup(v2, p);
  EXPECT_EQ(r.status, StartupStatus::unsupported_version);
  EXPECT_NE(r.error.find("unsupported frontend protocol 2.0"), std::string::npos);

  std::string unterminated;
  put_u32(unterminated, 13);
  put_u32(unterminated, kProtocol3);
  unterminated += "user";
  unterminated.push_back('\0');
  EXPECT_EQ(parse_startup(unterminated, p).status, StartupStatus::malformed);

  std::string partial;
  put_u32(partial, 40);
  put_u32(partial, kProtocol3);
  EXPECT_EQ(parse_startup(partial, p).status, StartupStatus::need_more);
}

TEST(Messages, ErrorFieldsRoundTrip) {
  std::string buf;
  error_response(
      buf, {"FATAL", "57P01", "terminating connection due to administrator command", "d", "h"});
  Frame f;
  ASSERT_EQ(next_frame(buf, 1 << 20, f), FrameStatus::ok);
  ErrorFields e;
  ASSERT_TRUE(parse_error_fields(f.body, e));
  EXPECT_EQ(e.severity, "FATAL");
  EXPECT_EQ(e.sqlstate, "57P01");
  EXPECT_EQ(e.message, "terminating connection due to administrator command");
  EXPECT_EQ(e.detail, "d");
  EXPECT_EQ(e.hint, "h");
}

TEST(Messages, ExtendedProtocolViews) {
  std::string body = std::string("stmt1\0select $1\0\0\x01\0\0\0\x17", 22);
  ParseView pv;
  ASSERT_TRUE(parse_parse(body, pv));
  EXPECT_EQ(pv.name, "stmt1");
  EXPECT_EQ(pv.query, "select $1");
  std::string rebuilt;
  parse(rebuilt, "pgw_1", pv.rest);
  Frame f;
  ASSERT_EQ(next_frame(rebuilt, 1 << 20, f), FrameStatus::ok);
  ParseView pv2;
  ASSERT_TRUE(parse_parse(f.body, pv2));
  EXPECT_EQ(pv2.name, "pgw_1");
  EXPECT_EQ(pv2.rest, pv.rest);
  EXPECT_FALSE(
      parse_parse(std::string_view("x\0q\0\0\x02\0\0\0\x17", 11), pv));  // 2 types, 1 given

  std::string b = std::string("\0s1\0\0\0\0\0\0\0", 10);
  BindView bv;
  ASSERT_TRUE(parse_bind(b, bv));
  EXPECT_EQ(bv.portal, "");
  EXPECT_EQ(bv.statement, "s1");
  char kind;
  std::string_view name;
  ASSERT_TRUE(parse_target(std::string_view("Sabc\0", 5), kind, name));
  EXPECT_EQ(kind, 'S');
  EXPECT_EQ(name, "abc");
  EXPECT_FALSE(parse_target(std::string_view("Xabc\0", 5), kind, name));
}
