// The differential harness (README.md): every script runs straight against
// PostgreSQL 15, through `pgwarden proxy` in session mode and through it in
// transaction mode. The normalised response streams, the notifications and
// the table an observer reads afterwards must be the same on every path,
// except for the documented transaction-mode differences, which are asserted
// as such; and so for the script cut short after every step, its clients
// vanishing without Terminate.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "harness.hpp"
#include "scripts.hpp"

using namespace pgw::test;
using namespace pgw::test::diff;

namespace {

bool same_run(const RunResult& want, const RunResult& got, bool complete) {
  return want.steps == got.steps && want.state == got.state && got.problems.empty() &&
         (!complete || want.notifications == got.notifications);
}

class Differential : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    // client_connection_check_interval: PostgreSQL notices a client that
    // vanished mid-query and ends the query, as pgwarden cancels the query of
    // a client that left; otherwise a direct run would sleep on for nobody.
    pg_ = std::make_unique<PgCluster>(PgClusterOptions{
        .settings = {{"max_connections", "40"}, {"client_connection_check_interval", "'100ms'"}},
        .auth_method = "trust"});
    Harness::prepare_cluster(*pg_);
    session_ = std::make_unique<ProxyProcess>(Harness::proxy_config(*pg_, "session"));
    transaction_ = std::make_unique<ProxyProcess>(Harness::proxy_config(*pg_, "transaction"));
    harness_ = std::make_unique<Harness>(*pg_);
  }
  static void TearDownTestSuite() {
    harness_.reset();
    session_.reset();
    transaction_.reset();
    pg_.reset();
  }

 protected:
  static Target target(Path p) {
    switch (p) {
      case Path::direct:
        return {p, pg_->port(), nullptr};
      case Path::session:
        return {p, session_->port(), session_.get()};
      case Path::transaction:
        return {p, transaction_->port(), transaction_.get()};
    }
    return {};
  }

  static bool known_bug_in(const Script& s, Path p) {
    return (p == Path::session && s.known_bug_session) ||
           (p == Path::transaction && s.known_bug_transaction);
  }

  // Runs one script on every path, complete and cut short after every step.
  static void check(const Script& s) {
    SCOPED_TRACE("script " + s.name);
    const auto started = std::chrono::steady_clock::now();
    Harness& h = *harness_;
    int runs = 0;
    auto run = [&](Path p, size_t vanish_after = Harness::kComplete) {
      ++runs;
      return h.run(target(p), s, vanish_after);
    };
    const RunResult direct = run(Path::direct);
    ASSERT_TRUE(direct.problems.empty()) << s.name << " direct:\n" << render(s, direct);
    ASSERT_EQ(direct.steps.size(), s.steps.size()) << render(s, direct);
    // PGWARDEN_DIFF_VERBOSE=1 prints what each script reads from PostgreSQL.
    if (std::getenv("PGWARDEN_DIFF_VERBOSE")) std::cout << s.name << ":\n" << render(s, direct);
    for (const auto& d : s.txn_steps) {
      ASSERT_LT(d.step, s.steps.size());
      // A documented difference that is not one any more: the entry is stale.
      EXPECT_NE(direct.steps[d.step], d.reads)
          << s.name << ": the transaction-mode expectation of step " << d.step
          << " is what PostgreSQL answers directly";
    }
    for (Path p : {Path::session, Path::transaction}) {
      const RunResult got = run(p);
      const RunResult want = expected_for(p, s, direct, true);
      if (known_bug_in(s, p)) {
        EXPECT_FALSE(same_run(want, got, true))
            << s.name << " in " << to_string(p) << " mode now matches PostgreSQL: known bug \""
            << s.known_bug << "\" looks fixed; remove its known_bug entry (README.md)";
        std::cout << "[ known bug ] " << s.name << " (" << to_string(p) << "): " << s.known_bug
                  << "\n direct:\n"
                  << render(s, direct) << " " << to_string(p) << ":\n"
                  << render(s, got);
        continue;
      }
      EXPECT_TRUE(same_run(want, got, true))
          << s.name << " complete, " << to_string(p) << " mode"
          << (p == Path::transaction && !s.txn_reason.empty()
                  ? " (documented difference: " + s.txn_reason + ")"
                  : "")
          << "\n expected:\n"
          << render(s, want) << " got:\n"
          << render(s, got);
    }
    for (size_t k = 0; k <= s.steps.size(); ++k) {
      const RunResult dk = run(Path::direct, k);
      ASSERT_TRUE(dk.problems.empty()) << s.name << " direct, vanish after " << k << ":\n"
                                       << render(s, dk);
      for (Path p : {Path::session, Path::transaction}) {
        if (known_bug_in(s, p)) continue;
        const RunResult got = run(p, k);
        const RunResult want = expected_for(p, s, dk, false);
        EXPECT_TRUE(same_run(want, got, false)) << s.name << ", clients vanish after step " << k
                                                << ", " << to_string(p) << " mode\n expected:\n"
                                                << render(s, want) << " got:\n"
                                                << render(s, got);
      }
    }
    std::cout << "[ script ] " << s.name << ": " << s.steps.size() << " steps, " << runs
              << " runs in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " ms\n";
  }

  static void check_all(const std::vector<Script>& scripts) {
    for (const auto& s : scripts) check(s);
  }

 private:
  static inline std::unique_ptr<PgCluster> pg_;
  static inline std::unique_ptr<ProxyProcess> session_, transaction_;
  static inline std::unique_ptr<Harness> harness_;
};

}  // namespace

TEST_F(Differential, SimpleProtocol) {
  check_all(simple_scripts());
}

TEST_F(Differential, ExtendedProtocol) {
  check_all(extended_scripts());
}

TEST_F(Differential, PipelinesWithErrors) {
  check_all(pipeline_scripts());
}

TEST_F(Differential, Copy) {
  check_all(copy_scripts());
}

TEST_F(Differential, SettingsNotificationsCancels) {
  check_all(session_scripts());
}

TEST_F(Differential, SessionStateInTransactionMode) {
  check_all(session_state_scripts());
}

TEST_F(Differential, FixedBugs) {
  check_all(fixed_bug_scripts());
}

TEST_F(Differential, KnownBugs) {
  const auto scripts = known_bug_scripts();
  if (scripts.empty()) GTEST_SKIP() << "no known bugs are listed";
  for (const auto& s : scripts) {
    EXPECT_FALSE(s.known_bug.empty()) << s.name;
    EXPECT_TRUE(s.known_bug_session || s.known_bug_transaction) << s.name;
  }
  check_all(scripts);
}
