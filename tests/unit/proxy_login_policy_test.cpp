#include <gtest/gtest.h>

#include "pgwarden/proxy/login_policy.hpp"

using namespace pgw;
using namespace pgw::proxy;

namespace {
ProxyConfig config(ClientAuth auth) {
  ProxyConfig cfg;
  cfg.auth_type = auth;
  cfg.databases["app"] = DatabaseConfig{.name = "app"};
  cfg.users["alice"] = UserConfig{.name = "alice", .password = "s3cret"};
  cfg.users["blank"] = UserConfig{.name = "blank"};
  return cfg;
}
std::string cause(const std::optional<LoginRefusal>& r) {
  return r ? r->cause : "";
}
}  // namespace

TEST(LoginPolicy, ListedUserAndConfiguredDatabase) {
  for (auto auth :
       {ClientAuth::trust, ClientAuth::cleartext, ClientAuth::md5, ClientAuth::scram_sha_256}) {
    auto cfg = config(auth);
    EXPECT_EQ(cause(login_refusal(cfg, "alice", "app")), "");
    EXPECT_EQ(cause(login_refusal(cfg, "alice", "pgbouncer")), "") << "the console database";
    EXPECT_EQ(cause(login_refusal(cfg, "alice", "nope")), "unknown_database");
    EXPECT_EQ(cause(login_refusal(cfg, "mallory", "app")), "unknown_user");
    // The user is checked first: an unknown user learns nothing of databases.
    EXPECT_EQ(cause(login_refusal(cfg, "mallory", "nope")), "unknown_user");
  }
}

TEST(LoginPolicy, EmptyPasswordsOnlyWhenAllowedOrTrusted) {
  for (auto auth : {ClientAuth::cleartext, ClientAuth::md5, ClientAuth::scram_sha_256}) {
    auto cfg = config(auth);
    auto r = login_refusal(cfg, "blank", "app");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->cause, "empty_password");
    EXPECT_NE(r->message.find("auth_allow_empty_password"), std::string::npos) << r->message;
    cfg.auth_allow_empty_password = true;
    EXPECT_EQ(cause(login_refusal(cfg, "blank", "app")), "");
  }
  EXPECT_EQ(cause(login_refusal(config(ClientAuth::trust), "blank", "app")), "");
}

TEST(LoginPolicy, TrustAdmitsUnlistedUsersOnlyWhenConfigured) {
  auto cfg = config(ClientAuth::trust);
  auto r = login_refusal(cfg, "mallory", "app");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cause, "unknown_user");
  EXPECT_NE(r->message.find("auth_trust_any_user"), std::string::npos) << r->message;
  cfg.auth_trust_any_user = true;
  EXPECT_EQ(cause(login_refusal(cfg, "mallory", "app")), "");
  EXPECT_EQ(cause(login_refusal(cfg, "mallory", "nope")), "unknown_database");
  // The opt-in is for trust only.
  cfg.auth_type = ClientAuth::scram_sha_256;
  EXPECT_EQ(cause(login_refusal(cfg, "mallory", "app")), "unknown_user");
}

TEST(LoginPolicy, EveryRefusalReadsLikeAWrongPassword) {
  EXPECT_EQ(auth_failed_message("ghost"), "password authentication failed for user \"ghost\"");
}
