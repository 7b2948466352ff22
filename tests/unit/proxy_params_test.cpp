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
            "SELECT set_config('timezone', 'Europe/Paris', false);"
            "SELECT set_config('application_name', 'pgwarden', false);RESET search_path;");
  // A list value stays a list.
  EXPECT_EQ(replay_sql({{"search_path", "pg_catalog, public"}}, {}, {}),
            "SELECT set_config('search_path', 'pg_catalog, public', false);");
  EXPECT_EQ(replay_sql(current, current, defaults), "");
}

TEST(Params, QuotesValues) {
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  ParamMap out;
  EXPECT_TRUE(parse_options("-c search_path=a,b --statement-timeout=5s", out));
  EXPECT_EQ(out["search_path"], "a,b");
  EXPECT_EQ(out["statement_timeout"], "5s");
  // GUC names are case-insensitive: one key per setting, as the server reports it.
  EXPECT_TRUE(parse_options("-c TimeZone=Asia/Tokyo", out));
  EXPECT_EQ(out.count("TimeZone"), 0u);
  EXPECT_EQ(out["timezone"], "Asia/Tokyo");
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

#include "pgwarden/proxy/session_effects.hpp"

TEST(SessionEffects, SettingsThatOutliveTheTransaction) {
  EXPECT_TRUE(scan_session_effects("SET work_mem = '64MB'").settings);
  EXPECT_TRUE(scan_session_effects("  /* c */ set search_path to tenant_1").settings);
  EXPECT_TRUE(scan_session_effects("-- x\nRESET ALL").settings);
  EXPECT_TRUE(scan_session_effects("discard all").settings);
  EXPECT_TRUE(scan_session_effects("select 1; set statement_timeout = 5").settings);
  EXPECT_TRUE(scan_session_effects("select set_config('app.user', '7', false)").settings);
  EXPECT_TRUE(scan_session_effects("SET SESSION timezone = 'UTC'").settings);
  EXPECT_FALSE(scan_session_effects("SET LOCAL work_mem = '1MB'").settings);
  EXPECT_FALSE(scan_session_effects("set transaction isolation level serializable").settings);
  EXPECT_FALSE(scan_session_effects("update t set x = 1").settings);
  EXPECT_FALSE(scan_session_effects("select 'a; set x = 1'").settings);
  EXPECT_FALSE(scan_session_effects("select $$; reset all$$").settings);
}

TEST(SessionEffects, ResetsThatMayBringBackALoginValue) {
  // What can put a parameter back at its reset value: the link's login value
  // through pgwarden, the client's startup value on PostgreSQL directly.
  EXPECT_TRUE(scan_session_effects("RESET application_name").resets);
  EXPECT_TRUE(scan_session_effects("reset all").resets);
  EXPECT_TRUE(scan_session_effects("DISCARD ALL").resets);
  EXPECT_TRUE(scan_session_effects("set timezone to default").resets);
  EXPECT_TRUE(scan_session_effects("SET SESSION DateStyle = DEFAULT").resets);
  EXPECT_TRUE(scan_session_effects("select set_config('application_name', null, false)").resets);
  EXPECT_TRUE(scan_session_effects("select 1; reset timezone").resets);
  EXPECT_FALSE(scan_session_effects("SET application_name = 'mine'").resets);
  EXPECT_FALSE(scan_session_effects("set timezone to 'default_zone'").resets);
  EXPECT_FALSE(scan_session_effects("SET LOCAL timezone TO DEFAULT").resets);
  EXPECT_FALSE(scan_session_effects("select 'reset all'").resets);
  EXPECT_FALSE(scan_session_effects("update t set x = default").resets);
}

TEST(SessionEffects, CustomVariablesAreNamed) {
  auto fx = scan_session_effects(
      "select set_config('App.Tenant', '7', false), set_config ( 'app.user' , 'x', false)");
  ASSERT_EQ(fx.custom_names.size(), 2u);
  EXPECT_EQ(fx.custom_names[0], "app.tenant");
  EXPECT_EQ(fx.custom_names[1], "app.user");
  fx = scan_session_effects("SET SESSION myapp.role = 'admin'; RESET other.x; SET work_mem = 1");
  ASSERT_EQ(fx.custom_names.size(), 2u);
  EXPECT_EQ(fx.custom_names[0], "myapp.role");
  EXPECT_EQ(fx.custom_names[1], "other.x");
  EXPECT_TRUE(scan_session_effects("set_config(name, value, false)").custom_names.empty());
}

TEST(SessionEffects, StateThatCannotBeCarried) {
  EXPECT_STREQ(scan_session_effects("LISTEN jobs").uncarried, "LISTEN");
  EXPECT_STREQ(scan_session_effects("create temp table t(x int)").uncarried, "a temporary table");
  EXPECT_STREQ(scan_session_effects("CREATE LOCAL TEMPORARY TABLE t(x int)").uncarried,
               "a temporary table");
  EXPECT_STREQ(scan_session_effects("create or replace temp view v as select 1").uncarried,
               "a temporary table");
  EXPECT_STREQ(scan_session_effects("select pg_advisory_lock(42)").uncarried,
               "a session-level advisory lock");
  EXPECT_STREQ(scan_session_effects("declare c cursor with hold for select 1").uncarried,
               "a WITH HOLD cursor");
  EXPECT_STREQ(scan_session_effects("PREPARE q AS select 1").uncarried,
               "a prepared statement made with PREPARE");
  EXPECT_EQ(scan_session_effects("prepare transaction 'x'").uncarried, nullptr);
  EXPECT_EQ(scan_session_effects("select pg_advisory_xact_lock(1)").uncarried, nullptr);
  EXPECT_EQ(scan_session_effects("create table t(x int)").uncarried, nullptr);
  EXPECT_EQ(scan_session_effects("declare c cursor for select 1").uncarried, nullptr);
  EXPECT_EQ(scan_session_effects("select 'listen'").uncarried, nullptr);
}
