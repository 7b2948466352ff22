// The pure rules of the toxics (src/faults/toxics.hpp).
#include <gtest/gtest.h>

#include <numeric>

#include "pgwarden/faults/toxics.hpp"

using namespace pgw::faults;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(FaultsToxics, CheckFillsTheNameAndEveryAttributeAsToxiproxyAnswersThem) {
  ToxicSpec t;
  t.type = "slicer";
  t.stream = Stream::upstream;
  t.attributes = {{"average_size", 64}};
  ASSERT_FALSE(check_toxic(t));
  EXPECT_EQ(t.name, "slicer_upstream");
  EXPECT_EQ(t.attributes, (std::map<std::string, int64_t>{
                              {"average_size", 64}, {"size_variation", 0}, {"delay", 0}}));
  ToxicSpec l;
  l.type = "latency";
  ASSERT_FALSE(check_toxic(l));
  EXPECT_EQ(l.name, "latency_downstream");  // downstream is the default stream
  EXPECT_EQ(l.toxicity, 1.0);
  EXPECT_EQ(l.attributes.size(), 2u);
}

TEST(FaultsToxics, CheckNamesTheFieldThatIsWrong) {
  ToxicSpec t;
  t.type = "lag";
  auto p = check_toxic(t);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key, "type");
  t.type = "latency";
  t.attributes = {{"latency", -1}};
  p = check_toxic(t);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key, "attributes.latency");
  t.attributes = {{"rate", 1}};
  p = check_toxic(t);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key, "attributes.rate");
  t.attributes = {};
  t.toxicity = 1.5;
  p = check_toxic(t);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key, "toxicity");
  EXPECT_EQ(toxic_types().size(), 15u);
  for (const auto& type : toxic_types()) EXPECT_NE(toxic_attributes(type), nullptr) << type;
}

TEST(FaultsToxics, ToxicityIsTheShareOfDraws) {
  std::mt19937_64 rng(42);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += toxicity_draw(0.3, rng) ? 1 : 0;
  EXPECT_GT(hits, 2700);
  EXPECT_LT(hits, 3300);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(toxicity_draw(1.0, rng));
    EXPECT_FALSE(toxicity_draw(0.0, rng));
  }
}

TEST(FaultsToxics, LatencyStaysWithinTheJitterAndNeverBelowZero) {
  std::mt19937_64 rng(7);
  milliseconds lo(1000), hi(0);
  for (int i = 0; i < 5000; ++i) {
    auto d = latency_delay(100, 20, rng);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_EQ(lo, milliseconds(80));  // [-jitter, +jitter)
  EXPECT_EQ(hi, milliseconds(119));
  EXPECT_EQ(latency_delay(100, 0, rng), milliseconds(100));
  for (int i = 0; i < 1000; ++i) EXPECT_GE(latency_delay(5, 50, rng).count(), 0);
}

TEST(FaultsToxics, SlicerPiecesAddUpAndStayWithinTheBound) {
  std::mt19937_64 rng(1);
  for (size_t len : {1u, 10u, 99u, 100u, 1000u, 4096u, 65536u}) {
    auto pieces = slice_sizes(len, 100, 20, rng);
    EXPECT_EQ(std::accumulate(pieces.begin(), pieces.end(), size_t{0}), len);
    for (size_t p : pieces) {
      EXPECT_LE(p, 120u) << len;
      EXPECT_GE(p, 1u);
    }
    if (len > 120) {
      EXPECT_GE(pieces.size(), len / 120);
    }
  }
  EXPECT_EQ(slice_sizes(500, 0, 0, rng), std::vector<size_t>{500});  // average 0: untouched
  EXPECT_TRUE(slice_sizes(0, 10, 0, rng).empty());
  // No variation: halves of halves.
  EXPECT_EQ(slice_sizes(40, 10, 0, rng), (std::vector<size_t>{10, 10, 10, 10}));
}

TEST(FaultsToxics, BandwidthPacesPiecesOfATenthOfASecond) {
  // 10 KB/s: pieces of 1000 bytes, 100 ms each.
  auto s = bandwidth_schedule(2500, 10);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].bytes, 1000u);
  EXPECT_EQ(s[0].wait, microseconds(100'000));
  EXPECT_EQ(s[2].bytes, 500u);
  EXPECT_EQ(s[2].wait, microseconds(50'000));
  microseconds total(0);
  for (auto& p : bandwidth_schedule(100'000, 50)) total += p.wait;
  EXPECT_EQ(total, microseconds(2'000'000));        // 100 kB at 50 kB/s
  EXPECT_TRUE(bandwidth_schedule(100, 0).empty());  // rate 0 stalls
}

TEST(FaultsToxics, DataLimitCountsAcrossChunks) {
  DataLimit l(100);
  EXPECT_EQ(l.admit(60), 60u);
  EXPECT_FALSE(l.reached());
  EXPECT_EQ(l.admit(60), 40u);
  EXPECT_TRUE(l.reached());
  EXPECT_EQ(l.admit(10), 0u);
  DataLimit zero(0);
  EXPECT_TRUE(zero.reached());
}

TEST(FaultsToxics, StreamNames) {
  EXPECT_EQ(parse_stream("upstream"), Stream::upstream);
  EXPECT_EQ(parse_stream("downstream"), Stream::downstream);
  EXPECT_FALSE(parse_stream("both"));
  EXPECT_STREQ(to_string(Stream::upstream), "upstream");
}
