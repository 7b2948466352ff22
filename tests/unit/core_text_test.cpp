#include <gtest/gtest.h>

#include "pgwarden/core/json_text.hpp"
#include "pgwarden/core/time_text.hpp"

using namespace pgw;

TEST(JsonText, EscapesQuotesControlsAndReplacesInvalidUtf8) {
  std::string out;
  append_json_string(out, "a\"b\\\n\x01\xff\xc3\xa9");
  EXPECT_EQ(out, "\"a\\\"b\\\\\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
  out.clear();
  append_json_string(out, "plain ascii, nothing to do");
  EXPECT_EQ(out, "\"plain ascii, nothing to do\"");
  out.clear();
  append_json_string(out, "cut \xe2\x82");  // a truncated euro sign at the end
  EXPECT_EQ(out, "\"cut \xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST(JsonText, Utf8ValidationIsStrict) {
  EXPECT_TRUE(valid_utf8("\xc3\xa9"));
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));   // U+1F600
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(all_ascii("abc"));
  EXPECT_FALSE(all_ascii("abcdefgh\xc3\xa9"));
}

TEST(TimeText, Rfc3339MicrosecondsUtcEvenBeforeTheEpoch) {
  EXPECT_EQ(format_utc_micros(1'795'739'045'123'456), "2026-11-27T00:24:05.123456Z");
  EXPECT_EQ(format_utc_micros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_utc_micros(-1), "1969-12-31T23:59:59.999999Z");
}
