// Host selection and the host state machine (pure parts of src/pool/hosts.cpp).
#include <gtest/gtest.h>

#include "pgwarden/pool/hosts.hpp"

using namespace pgw;
using namespace pgw::pool;

namespace {
std::vector<HostState> hosts(std::initializer_list<HostRole> roles) {
  std::vector<HostState> out;
  uint16_t port = 5432;
  for (auto r : roles) {
    HostState h;
    h.addr = {"127.0.0.1", port++};
    h.role = r;
    out.push_back(h);
  }
  return out;
}
const auto now = HostClock::now();
}  // namespace

TEST(SelectHost, ReadWriteTakesThePrimaryOnly) {
  using R = HostRole;
  EXPECT_EQ(select_host(hosts({R::standby, R::primary}), TargetSessionAttrs::read_write, now), 1u);
  // No writer known: a host of unknown role is tried (its login is checked).
  EXPECT_EQ(select_host(hosts({R::standby, R::unknown}), TargetSessionAttrs::read_write, now), 1u);
  // Only standbys and down hosts: hold.
  EXPECT_FALSE(select_host(hosts({R::down, R::standby}), TargetSessionAttrs::read_write, now));
}

TEST(SelectHost, ReadOnlyPreferStandbyAny) {
  using R = HostRole;
  EXPECT_EQ(select_host(hosts({R::primary, R::standby}), TargetSessionAttrs::read_only, now), 1u);
  EXPECT_FALSE(select_host(hosts({R::primary, R::down}), TargetSessionAttrs::read_only, now));
  EXPECT_EQ(select_host(hosts({R::primary, R::standby}), TargetSessionAttrs::prefer_standby, now),
            1u);
  EXPECT_EQ(select_host(hosts({R::primary, R::down}), TargetSessionAttrs::prefer_standby, now), 0u);
  // Not every host checked yet: wait rather than settle for the primary.
  EXPECT_FALSE(
      select_host(hosts({R::primary, R::unknown}), TargetSessionAttrs::prefer_standby, now));
  EXPECT_EQ(select_host(hosts({R::down, R::standby}), TargetSessionAttrs::any, now), 1u);
  EXPECT_FALSE(select_host(hosts({R::down, R::down}), TargetSessionAttrs::any, now));
}

TEST(SelectHost, QuarantinedHostsAreSkippedUntilTheirTime) {
  auto hs = hosts({HostRole::primary, HostRole::primary});
  hs[0].quarantined = true;
  hs[0].quarantined_until = now + std::chrono::seconds(1);
  EXPECT_EQ(select_host(hs, TargetSessionAttrs::read_write, now), 1u);
  EXPECT_EQ(select_host(hs, TargetSessionAttrs::read_write, now + std::chrono::seconds(2)), 0u);
}

TEST(LoginRole, MismatchCauses) {
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::read_write, true, false), "server_not_writer");
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::read_write, false, true), "server_not_writer");
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::read_write, false, false), "");
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::read_only, false, false), "server_not_standby");
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::read_only, true, false), "");
  EXPECT_EQ(login_role_mismatch(TargetSessionAttrs::any, true, false), "");
}

TEST(HostSet, FailoverTimelineAndQuarantine) {
  Timeouts t;
  HostSet set("app", {{"127.0.0.1", 1}, {"127.0.0.1", 2}}, true, t);
  bool changed = false;
  set.report_role(0, HostRole::primary, "not in recovery", changed);
  EXPECT_FALSE(changed);  // unknown → primary: nothing opened before is stale
  set.report_role(1, HostRole::standby, "in recovery", changed);
  EXPECT_EQ(set.pick(TargetSessionAttrs::read_write)->index, 0u);
  const uint64_t e0 = set.epoch(0);
  // A link to the writer dies: the timeline starts, the host is not down yet.
  set.report_link_lost(0);
  ASSERT_TRUE(set.failover());
  EXPECT_FALSE(set.failover()->is_detected);
  // The check fails: down, quarantined, the writer's links are stale.
  auto evs = set.report_failure(0, "connection refused", changed);
  EXPECT_TRUE(changed);
  EXPECT_TRUE(set.stale(0, e0));
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].event, "host.role_changed");
  EXPECT_EQ(evs[0].previous_role, "primary");
  EXPECT_EQ(evs[1].event, "host.quarantined");
  EXPECT_EQ(evs[1].message, "connection refused");
  EXPECT_TRUE(set.failover()->is_detected);
  EXPECT_FALSE(set.pick(TargetSessionAttrs::read_write));  // hold
  EXPECT_EQ(set.interval(), t.host_check_fast_interval);
  EXPECT_FALSE(set.note_served());  // no writer yet
  // The standby is promoted.
  evs = set.report_role(1, HostRole::primary, "not in recovery", changed);
  EXPECT_EQ(set.pick(TargetSessionAttrs::read_write)->index, 1u);
  auto fo = set.note_served();
  ASSERT_TRUE(fo);
  EXPECT_EQ(fo->event, "failover");
  EXPECT_EQ(fo->old_host, "127.0.0.1:1");
  EXPECT_EQ(fo->host, "127.0.0.1:2");
  EXPECT_EQ(fo->cause, "writer_changed");
  EXPECT_GE(fo->writer_found_ms, fo->detected_ms);
  EXPECT_GE(fo->first_served_ms, fo->writer_found_ms);
  EXPECT_FALSE(set.note_served());  // one event per failover
  EXPECT_EQ(set.failovers(), 1u);
  // Backoff doubles up to host_quarantine_max.
  set.report_failure(0, "refused", changed);
  set.report_failure(0, "refused", changed);
  EXPECT_EQ(set.snapshot()[0].backoff, t.host_quarantine * 4);  // 3 failures in a row
  // It comes back as a standby: host.recovered.
  evs = set.report_role(0, HostRole::standby, "in recovery", changed);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs[0].event, "host.recovered");
  EXPECT_EQ(evs[0].role, "standby");
  EXPECT_EQ(set.pick(TargetSessionAttrs::read_only)->index, 0u);
}
