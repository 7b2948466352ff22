#pragma once
// Password authentication as PostgreSQL does it: MD5 and SCRAM-SHA-256
// (RFC 5802 / RFC 7677), both directions. Pure computation on strings; the
// proxy moves the messages. Passwords are never logged or put in errors.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::wire {

std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);
std::string random_bytes(size_t n);

// Comparisons of secrets (digests, proofs, passwords) that take the same time
// wherever the inputs differ (OpenSSL's CRYPTO_memcmp). Unequal lengths
// compare unequal at once: only use this where the length is not secret
// (fixed-size digests, "md5" + 32 hex).
bool constant_time_equal(std::string_view a, std::string_view b);
// For plaintext passwords, whose length is secret too: compares SHA-256
// digests of both in constant time.
bool password_equal(std::string_view given, std::string_view stored);

// "md5" + md5hex(md5hex(password + user) + salt): the PasswordMessage answer.
std::string md5_response(std::string_view user, std::string_view password_or_md5_hash,
                         std::string_view salt4);
// The stored form "md5" + md5hex(password + user).
std::string md5_hash(std::string_view user, std::string_view password);
// Whether a stored password is in that form (PostgreSQL's test: "md5" and 32 more).
inline bool is_md5_hash(std::string_view stored) {
  return stored.starts_with("md5") && stored.size() == 35;
}

// A SCRAM-SHA-256 verifier as stored by PostgreSQL:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
struct ScramSecret {
  int iterations = 4096;
  std::string salt;  // raw bytes
  std::string stored_key;
  std::string server_key;
  static std::optional<ScramSecret> parse(std::string_view text);
  static ScramSecret from_password(std::string_view password, std::string_view salt,
                                   int iterations);
  // A verifier no password matches, for a user who must be refused (unknown,
  // no usable password...) after a full exchange. Its salt is derived from
  // the user name and `key` (a per-process secret), so repeated attempts see
  // the same salt, as for a real user, and users cannot be told apart.
  static ScramSecret mock(std::string_view user, std::string_view key, int iterations = 4096);
  std::string str() const;
};

// What a SCRAM login needs in place of the password (PgBouncer's SCRAM
// pass-through): ClientKey, recovered from a client's proof, and ServerKey
// from the verifier, with the salt and iteration count both were derived
// with. A server whose verifier has another salt or count cannot be logged in
// to with them. Secret: never printed.
struct ScramKeys {
  std::string client_key;
  std::string server_key;
  std::string salt;  // raw bytes
  int iterations = 0;
};

// The keys `password` gives under `secret`'s salt and iteration count, or
// nullopt when the password does not match the verifier.
std::optional<ScramKeys> scram_keys_for_password(const ScramSecret& secret,
                                                 std::string_view password);

// The most PBKDF2 iterations the client side computes (under a second here).
// It runs on a proxy worker thread: a server, or anyone on an unencrypted
// path, naming 2^31 would stall that thread for half an hour. PostgreSQL's
// default is 4096; hardened servers use up to some hundred thousand.
inline constexpr int kMaxScramIterations = 1'000'000;

// Client side of SCRAM-SHA-256 without channel binding (proxy → server).
class ScramClient {
 public:
  explicit ScramClient(std::string password, std::string nonce = {});
  // Logs in with keys instead of a password: no PBKDF2. The server must offer
  // the keys' salt and iteration count, else on_server_first fails and
  // secret_mismatch() is true.
  explicit ScramClient(ScramKeys keys, std::string nonce = {});
  // Channel binding (RFC 5802 section 6, RFC 5929): over TLS, "p=tls-server-end-point"
  // with the hash of the server's certificate (SCRAM-SHA-256-PLUS); "y" when
  // the client could bind but the server offers no -PLUS mechanism; "n"
  // (the default) without TLS. Call before client_first().
  void bind_channel(char flag, std::string cbind_data = {});
  std::string client_first();  // "<gs2 header>n=,r=<nonce>"
  // Consumes server-first; produces client-final. On failure sets `error`.
  bool on_server_first(std::string_view server_first, std::string& client_final,
                       std::string& error);
  bool verify_server_final(std::string_view server_final, std::string& error) const;
  // The server's salt or iteration count differ from the keys'.
  bool secret_mismatch() const { return secret_mismatch_; }

 private:
  std::string password_, nonce_, client_first_bare_, server_signature_;
  std::optional<ScramKeys> keys_;
  bool secret_mismatch_ = false;
  std::string gs2_header_ = "n,,", cbind_data_;
};

// Server side of SCRAM-SHA-256 (client → proxy), against a stored verifier.
class ScramServer {
 public:
  explicit ScramServer(ScramSecret secret, std::string nonce = {});
  bool on_client_first(std::string_view client_first, std::string& server_first,
                       std::string& error);
  // Verifies the proof. On success fills server_final ("v=...").
  bool on_client_final(std::string_view client_final, std::string& server_final,
                       std::string& error);
  // After a successful on_client_final: ClientKey (the proof XOR
  // HMAC(StoredKey, AuthMessage), whose hash is StoredKey) and the verifier's
  // ServerKey, salt and iterations. nullopt before.
  const std::optional<ScramKeys>& keys() const { return keys_; }

 private:
  ScramSecret secret_;
  std::optional<ScramKeys> keys_;
  std::string nonce_, client_first_bare_, server_first_, gs2_header_;
};

}  // namespace pgw::wire
