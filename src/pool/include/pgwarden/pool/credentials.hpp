#pragma once
// What pgwarden logs in to servers with when its config holds no plaintext
// password for a user: the secret clients were checked against (an md5 hash
// or a SCRAM verifier from [users], auth_file or auth_query) and, once a
// client has logged in with SCRAM, the keys its proof revealed (SCRAM
// pass-through, as PgBouncer does). Kept in memory only; never printed.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "pgwarden/wire/auth.hpp"

namespace pgw::pool {

// The form a stored password is in: "" (none), plaintext, "md5" + 32 hex, or
// "SCRAM-SHA-256$...".
enum class SecretKind { none, plaintext, md5, scram };
SecretKind secret_kind(std::string_view stored);

// One client-facing user's learnt credentials. Thread-safe.
class UserCredentials {
 public:
  // A client logged in against `secret`; `keys` are what its SCRAM proof gave
  // (nullopt for md5 or cleartext). A different secret than before (the
  // password changed) forgets the old keys.
  void learn(const std::string& secret, std::optional<wire::ScramKeys> keys);
  std::string secret() const;
  std::optional<wire::ScramKeys> scram_keys() const;

 private:
  mutable std::mutex mu_;
  std::string secret_;
  std::optional<wire::ScramKeys> keys_;
};

// Every user's UserCredentials, created on first use.
class CredentialStore {
 public:
  std::shared_ptr<UserCredentials> user(const std::string& name);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<UserCredentials>> users_;
};

}  // namespace pgw::pool
