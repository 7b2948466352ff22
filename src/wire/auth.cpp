#include "pgwarden/wire/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace pgw::wire {
namespace {

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
    throw std::runtime_error("digest failed");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hmac256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), u8(data), data.size(), out,
            &len))
    throw std::runtime_error("hmac failed");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hex(std::string_view raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

std::string salted_password(std::string_view password, std::string_view salt, int iterations) {
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), u8(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(), 32, out) != 1)
    throw std::runtime_error("pbkdf2 failed");
  return std::string(reinterpret_cast<char*>(out), 32);
}

// Finds attribute `key` (e.g. 'r') in a comma-separated SCRAM message.
std::optional<std::string_view> attr(std::string_view msg, char key) {
  size_t pos = 0;
  while (pos <= msg.size()) {
    size_t comma = msg.find(',', pos);
    std::string_view part =
        msg.substr(pos, comma == std::string_view::npos ? msg.npos : comma - pos);
    if (part.size() >= 2 && part[0] == key && part[1] == '=') return part.substr(2);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return std::nullopt;
}

std::string make_nonce() {
  return base64_encode(random_bytes(18));
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool password_equal(std::string_view given, std::string_view stored) {
  return constant_time_equal(digest(EVP_sha256(), given), digest(EVP_sha256(), stored));
}

std::string base64_encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(raw),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(text),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string md5_hash(std::string_view user, std::string_view password) {
  std::string in(password);
  in.append(user);
  return "md5" + hex(digest(EVP_md5(), in));
}

std::string md5_response(std::string_view user, std::string_view password_or_hash,
                         std::string_view salt4) {
  std::string inner = is_md5_hash(password_or_hash) ? std::string(password_or_hash.substr(3))
                                                    : md5_hash(user, password_or_hash).substr(3);
  inner.append(salt4);
  return "md5" + hex(digest(EVP_md5(), inner));
}

std::optional<ScramSecret> ScramSecret::parse(std::string_view text) {
  constexpr std::string_view prefix = "SCRAM-SHA-256$";
  if (!text.starts_with(prefix)) return std::nullopt;
  text.remove_prefix(prefix.size());
  auto colon = text.find(':'), dollar = text.find('$');
  if (colon == text.npos || dollar == text.npos || colon > dollar) return std::nullopt;
  auto colon2 = text.find(':', dollar);
  if (colon2 == text.npos) return std::nullopt;
  ScramSecret s;
  try {
    s.iterations = std::stoi(std::string(text.substr(0, colon)));
  } catch (...) {
    return std::nullopt;
  }
  auto salt = base64_decode(text.substr(colon + 1, dollar - colon - 1));
  auto stored = base64_decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = base64_decode(text.substr(colon2 + 1));
  if (!salt || !stored || !server || stored->size() != 32 || server->size() != 32 ||
      s.iterations < 1)
    return std::nullopt;
  s.salt = *salt;
  s.stored_key = *stored;
  s.server_key = *server;
  return s;
}

ScramSecret ScramSecret::from_password(std::string_view password, std::string_view salt,
                                       int iterations) {
  ScramSecret s;
  s.iterations = iterations;
  s.salt = std::string(salt);
  std::string salted = salted_password(password, salt, iterations);
  s.stored_key = digest(EVP_sha256(), hmac256(salted, "Client Key"));
  s.server_key = hmac256(salted, "Server Key");
  return s;
}

ScramSecret ScramSecret::mock(std::string_view user, std::string_view key, int iterations) {
  ScramSecret s;
  s.iterations = iterations;
  s.salt = hmac256(key, "salt:" + std::string(user)).substr(0, 16);
  // Not derived from any password: no proof can match a random StoredKey.
  s.stored_key = random_bytes(32);
  s.server_key = random_bytes(32);
  return s;
}

std::string ScramSecret::str() const {
  return "SCRAM-SHA-256$" + std::to_string(iterations) + ":" + base64_encode(salt) + "$" +
         base64_encode(stored_key) + ":" + base64_encode(server_key);
}

std::optional<ScramKeys> scram_keys_for_password(const ScramSecret& secret,
                                                 std::string_view password) {
  std::string salted = salted_password(password, secret.salt, secret.iterations);
  std::string client_key = hmac256(salted, "Client Key");
  if (!constant_time_equal(digest(EVP_sha256(), client_key), secret.stored_key))
    return std::nullopt;
  return ScramKeys{std::move(client_key), hmac256(salted, "Server Key"), secret.salt,
                   secret.iterations};
}

ScramClient::ScramClient(std::string password, std::string nonce)
    : password_(std::move(password)), nonce_(nonce.empty() ? make_nonce() : std::move(nonce)) {}

ScramClient::ScramClient(ScramKeys keys, std::string nonce)
    : nonce_(nonce.empty() ? make_nonce() : std::move(nonce)), keys_(std::move(keys)) {}

void ScramClient::bind_channel(char flag, std::string cbind_data) {
  gs2_header_ = flag == 'p' ? "p=tls-server-end-point,," : std::string(1, flag) + ",,";
  cbind_data_ = flag == 'p' ? std::move(cbind_data) : std::string();
}

std::string ScramClient::client_first() {
  // PostgreSQL takes the user from the startup packet and ignores n=.
  client_first_bare_ = "n=,r=" + nonce_;
  return gs2_header_ + client_first_bare_;
}

bool ScramClient::on_server_first(std::string_view server_first, std::string& client_final,
                                  std::string& error) {
  auto r = attr(server_first, 'r'), s = attr(server_first, 's'), i = attr(server_first, 'i');
  if (!r || !s || !i) {
    error = "malformed SCRAM server-first-message";
    return false;
  }
  if (!r->starts_with(nonce_) || r->size() == nonce_.size()) {
    error = "SCRAM server nonce does not extend the client nonce";
    return false;
  }
  auto salt = base64_decode(*s);
  int iterations = 0;
  auto [end, ec] = std::from_chars(i->data(), i->data() + i->size(), iterations);
  if (!salt || ec != std::errc{} || end != i->data() + i->size() || iterations < 1) {
    error = "malformed SCRAM salt or iteration count";
    return false;
  }
  std::string client_key, server_key;
  if (keys_) {  // no PBKDF2 to run: any iteration count the keys were made with
    if (*salt != keys_->salt || iterations != keys_->iterations) {
      secret_mismatch_ = true;
      error = "the server's SCRAM salt or iteration count differ from the secret pgwarden holds";
      return false;
    }
    client_key = keys_->client_key;
    server_key = keys_->server_key;
  } else {
    if (iterations > kMaxScramIterations) {
      error = "SCRAM iteration count " + std::to_string(iterations) +
              " is above pgwarden's limit of " + std::to_string(kMaxScramIterations);
      return false;
    }
    std::string salted = salted_password(password_, *salt, iterations);
    client_key = hmac256(salted, "Client Key");
    server_key = hmac256(salted, "Server Key");
  }
  std::string stored_key = digest(EVP_sha256(), client_key);
  // c= carries the gs2 header and, when bound, the channel's data ("biws" for "n,,").
  std::string without_proof =
      "c=" + base64_encode(gs2_header_ + cbind_data_) + ",r=" + std::string(*r);
  std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  std::string proof = xor_bytes(client_key, hmac256(stored_key, auth_message));
  server_signature_ = hmac256(server_key, auth_message);
  client_final = without_proof + ",p=" + base64_encode(proof);
  return true;
}

bool ScramClient::verify_server_final(std::string_view server_final, std::string& error) const {
  if (auto e = attr(server_final, 'e')) {
    error = "SCRAM authentication rejected by server: " + std::string(*e);
    return false;
  }
  auto v = attr(server_final, 'v');
  auto sig = v ? base64_decode(*v) : std::nullopt;
  if (!sig || !constant_time_equal(*sig, server_signature_)) {
    error = "SCRAM server signature is invalid (server does not know the password)";
    return false;
  }
  return true;
}

ScramServer::ScramServer(ScramSecret secret, std::string nonce)
    : secret_(std::move(secret)), nonce_(nonce.empty() ? make_nonce() : std::move(nonce)) {}

bool ScramServer::on_client_first(std::string_view msg, std::string& server_first,
                                  std::string& error) {
  // gs2-header: "n,," or "y,," (no channel binding offered without TLS).
  if (msg.size() < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',') {
    error = msg.starts_with("p=") ? "channel binding is not supported"
                                  : "malformed SCRAM client-first-message";
    return false;
  }
  auto second_comma = msg.find(',', 2);
  if (second_comma == msg.npos) {
    error = "malformed SCRAM client-first-message";
    return false;
  }
  gs2_header_ = std::string(msg.substr(0, second_comma + 1));
  client_first_bare_ = std::string(msg.substr(second_comma + 1));
  auto r = attr(client_first_bare_, 'r');
  if (!r || r->empty()) {
    error = "SCRAM client-first-message has no nonce";
    return false;
  }
  std::string combined = std::string(*r) + nonce_;
  server_first_ = "r=" + combined + ",s=" + base64_encode(secret_.salt) +
                  ",i=" + std::to_string(secret_.iterations);
  server_first = server_first_;
  nonce_ = combined;
  return true;
}

bool ScramServer::on_client_final(std::string_view msg, std::string& server_final,
                                  std::string& error) {
  auto c = attr(msg, 'c'), r = attr(msg, 'r'), p = attr(msg, 'p');
  auto proof_pos = msg.rfind(",p=");
  if (!c || !r || !p || proof_pos == msg.npos) {
    error = "malformed SCRAM client-final-message";
    return false;
  }
  if (base64_decode(*c) != gs2_header_) {
    error = "SCRAM channel binding data does not match";
    return false;
  }
  if (*r != nonce_) {
    error = "SCRAM nonce mismatch";
    return false;
  }
  auto proof = base64_decode(*p);
  if (!proof || proof->size() != 32) {
    error = "malformed SCRAM client proof";
    return false;
  }
  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(msg.substr(0, proof_pos));
  std::string client_key = xor_bytes(*proof, hmac256(secret_.stored_key, auth_message));
  if (!constant_time_equal(digest(EVP_sha256(), client_key), secret_.stored_key)) {
    error = "password authentication failed";
    return false;
  }
  server_final = "v=" + base64_encode(hmac256(secret_.server_key, auth_message));
  keys_ = ScramKeys{std::move(client_key), secret_.server_key, secret_.salt, secret_.iterations};
  return true;
}

}  // namespace pgw::wire
