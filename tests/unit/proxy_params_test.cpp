#include <gtest/gtest.h>

#include "pgwarden/proxy/params.hpp"
#include "pgwarden/proxy/statement_registry.hpp"
#include "pgwarden/wire/prepared_lru.hpp"

using namespace pgw::proxy;

TEST(Params, ReplaySetsWhatDiffersAndRestoresTheRest) {
  ParamMap defaults{{"application_name", "pgwarden"}, {"timezone", "UTC"}};
  ParamMap current{
      {"application_name", "other-app"}, {"timezone", "UTC"}, {"search_path", "tenant_9"}};
  ParamMap wanted{{"timezone", "Europe/Paris"}};
  EXPECT_EQ(replay_sql(wanted, current, defaults),
            "SET timezone = 'Europe/Paris';SET application_name = 'pgwarden';RESET search_path;");
  EXPECT_EQ(replay_sql(current, current, defaults), "");
}

TEST(Params, QuotesValues) {
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  ParamMap out;
  EXPECT_TRUE(parse_options("-c search_path=a,b --statement-timeout=5s", out));
  EXPECT_EQ(out["search_path"], "a,b");
  EXPECT_EQ(out["statement_timeout"], "5s");
  EXPECT_FALSE(parse_options("-x", out));
  EXPECT_FALSE(parse_options("-c bad;name=1", out));
  EXPECT_FALSE(is_valid_guc_name("a b"));
}

TEST(PreparedLru, EvictsLeastRecentlyUsed) {
  pgw::wire::PreparedLru lru;
  EXPECT_FALSE(lru.insert(1, 2));
  EXPECT_FALSE(lru.insert(2, 2));
  lru.touch(1);
  auto victim = lru.insert(3, 2);
  ASSERT_TRUE(victim);
  EXPECT_EQ(*victim, 2u);
  EXPECT_TRUE(lru.contains(1));
  EXPECT_TRUE(lru.contains(3));
  EXPECT_EQ(lru.size(), 2u);
}

TEST(StatementRegistry, SameTextSameId) {
  StatementRegistry r;
  auto a = r.id_for(std::string_view("select 1\0\0\0", 11));
  auto b = r.id_for(std::string_view("select 2\0\0\0", 11));
  EXPECT_NE(a, b);
  EXPECT_EQ(r.id_for(std::string_view("select 1\0\0\0", 11)), a);
  EXPECT_EQ(StatementRegistry::server_name(a), "pgw_" + std::to_string(a));
}
