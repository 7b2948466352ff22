#pragma once
#include <boost/asio/awaitable.hpp>

#include <string>
#include <utility>
#include <vector>

#include "pgwarden/pool/pool.hpp"

namespace pgw::pool {
// Connects `s` to its server and logs in as the pool's server user. Throws
// ProxyError naming the cause (server_connect_failed / _timeout,
// server_login_failed / _timeout) with the server's SQLSTATE when it sent one.
// `tls`: the TLS client context (certificates as of the latest RELOAD); null
// when ps.tls.sslmode is disable.
// `extra`: more startup parameters after user and database (which are always
// the pool's server credentials), e.g. a replication connection's
// `replication` and its client's own parameters; application_name defaults
// to "pgwarden". Null for the pool's own links.
using StartupParams = std::vector<std::pair<std::string, std::string>>;
asio::awaitable<void> connect_and_login(ServerConn& s, const PoolSettings& ps,
                                        std::shared_ptr<boost::asio::ssl::context> tls,
                                        const StartupParams* extra = nullptr);
}  // namespace pgw::pool
