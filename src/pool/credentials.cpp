#include "pgwarden/pool/credentials.hpp"

#include "pgwarden/pool/pool.hpp"

namespace pgw::pool {

SecretKind secret_kind(std::string_view stored) {
  if (stored.empty()) return SecretKind::none;
  if (wire::is_md5_hash(stored)) return SecretKind::md5;
  if (wire::ScramSecret::parse(stored)) return SecretKind::scram;
  return SecretKind::plaintext;
}

void UserCredentials::learn(const std::string& secret, std::optional<wire::ScramKeys> keys) {
  std::lock_guard lock(mu_);
  if (secret != secret_) {
    secret_ = secret;
    keys_.reset();
  }
  if (keys) keys_ = std::move(keys);
}

std::string UserCredentials::secret() const {
  std::lock_guard lock(mu_);
  return secret_;
}

std::optional<wire::ScramKeys> UserCredentials::scram_keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::shared_ptr<UserCredentials> CredentialStore::user(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = users_[name];
  if (!slot) slot = std::make_shared<UserCredentials>();
  return slot;
}

std::string PoolSettings::stored_secret() const {
  if (!server_password.empty() || !learned) return server_password;
  return learned->secret();
}

bool PoolSettings::awaits_scram_keys() const {
  return secret_kind(stored_secret()) == SecretKind::scram && !(learned && learned->scram_keys());
}

}  // namespace pgw::pool
