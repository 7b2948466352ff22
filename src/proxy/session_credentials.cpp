// Client authentication's secrets beyond the config: auth_query for users the
// config does not list, and what a successful login teaches the user's pools
// (the secret it was checked against, SCRAM pass-through keys).
#include <fmt/format.h>

#include "pgwarden/proxy/auth_query.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

asio::awaitable<bool> Session::query_unlisted_user(std::optional<LoginRefusal>& refusal,
                                                   std::optional<std::string>& secret) {
  const ProxyConfig& cfg = proxy_.config();
  if (!refusal || refusal->cause != "unknown_user" || cfg.auth_type == ClientAuth::trust ||
      !proxy_.auth_query().enabled() || !cfg.databases.count(database_))
    co_return true;
  std::optional<ProxyError> failure;
  try {
    secret = co_await proxy_.auth_query().lookup(user_, database_);
  } catch (const ProxyError& e) {
    failure = e;
  }
  if (failure) {
    co_await send_fatal_and_close(failure->sqlstate, failure->message, failure->cause);
    co_return false;
  }
  if (secret)
    refusal.reset();
  else
    refusal->message = fmt::format(
        "user \"{}\" is not in [users] or auth_file, and auth_query found no secret for it", user_);
  co_return true;
}

void Session::remember_credentials(const std::string& stored, std::optional<wire::ScramKeys> keys) {
  // A plaintext password is in the config already: nothing to learn.
  const pool::SecretKind kind = pool::secret_kind(stored);
  if (kind != pool::SecretKind::md5 && kind != pool::SecretKind::scram) return;
  proxy_.pools().credentials().user(user_)->learn(stored, std::move(keys));
}

}  // namespace pgw::proxy
