// TLS towards clients: client_tls_sslmode from disable to verify-full, libpq
// clients in each sslmode, plaintext refused where TLS is required, client
// certificates (missing, expired, unknown CA, another user's name, auth_type =
// cert), PostgreSQL 17's direct TLS with ALPN, unencrypted bytes after an
// SSLRequest, protocol ranges, a certificate reload under open connections,
// and the handshake counters.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "http_get.hpp"
#include "pgwarden/wire/codec.hpp"
#include "stack.hpp"
#include "test_certs.hpp"

using namespace pgw::test;
namespace fs = std::filesystem;

namespace {

std::string q(const fs::path& p) {
  return "\"" + p.string() + "\"";
}

class ClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<TempTestCerts>();
    dir_ = certs_->dir;
    pg_ = std::make_unique<PgCluster>();
    pg_->psql("create role app login password 'app-pw'");
    pg_->psql("create role other login password 'other-pw'");
    pg_->psql("create database app owner app");
    pg_->psql("create table items (id int); grant all on items to app", "app");
  }
  static void TearDownTestSuite() {
    pg_.reset();
    certs_.reset();  // and its directory
  }

  // A proxy in front of `app` with these [proxy] keys (client_tls_*...).
  void start(const std::string& proxy_keys, const std::string& extra = "") {
    admin_port_ = free_port();
    proxy_ = std::make_unique<ProxyProcess>(
        "pool_mode = \"transaction\"\n" + proxy_keys + "\n[admin]\nlisten = \"127.0.0.1:" +
        std::to_string(admin_port_) + "\"\nadmin_users = [\"app\"]\n" +
        "[databases.app]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg_->port()) +
        "\n[users.app]\npassword = \"app-pw\"\n[users.other]\npassword = \"other-pw\"\n" + extra);
  }
  std::string tls_keys(const std::string& mode) const {
    return "client_tls_sslmode = \"" + mode +
           "\"\nclient_tls_cert_file = " + q(certs_->server_cert) +
           "\nclient_tls_key_file = " + q(certs_->server_key) +
           "\nclient_tls_ca_file = " + q(certs_->ca_cert);
  }
  // libpq through the proxy with extra conninfo (sslmode...); host defaults to 127.0.0.1.
  Conn connect(const std::string& extra, const std::string& user = "app") {
    const std::string pw = user == "app" ? "app-pw" : "other-pw";
    return pq_connect(proxy_->conninfo(user, pw, "app") + " " + extra);
  }
  // What one login with `extra` ends as: "TLSv1.3" (or "plain") after a
  // query, else libpq's message.
  std::string login(const std::string& extra, const std::string& user = "app") {
    auto c = connect(extra, user);
    if (PQstatus(c.get()) != CONNECTION_OK) return PQerrorMessage(c.get());
    auto r = pq_exec(c.get(), "select 1");
    if (!r.ok) return "query failed: " + r.message;
    const char* protocol = PQsslAttribute(c.get(), "protocol");
    return PQsslInUse(c.get()) ? std::string(protocol ? protocol : "?") : "plain";
  }
  std::string client_cert(const fs::path& cert, const fs::path& key) const {
    return "sslcert=" + cert.string() + " sslkey=" + key.string();
  }
  // The client.close event of a login that failed with `cause`.
  nlohmann::json closed_with(const std::string& cause) {
    return proxy_->wait_event({{"event", "client.close"}, {"cause", cause}}, 10);
  }
  std::optional<double> handshakes(const std::string& result) {
    auto reply = http_get(admin_port_, "/metrics");
    return metric_value(reply.body,
                        "pgwarden_client_tls_handshakes_total{result=\"" + result + "\"}");
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<TempTestCerts> certs_;
  static inline std::unique_ptr<PgCluster> pg_;
  std::unique_ptr<ProxyProcess> proxy_;
  int admin_port_ = 0;
};

TEST_F(ClientTls, DisableAnswersSslRequestWithNo) {
  start("");
  EXPECT_EQ(login("sslmode=prefer"), "plain");
  EXPECT_NE(login("sslmode=require").find("server does not support SSL"), std::string::npos);
}

TEST_F(ClientTls, PreferServesEveryLibpqSslmode) {
  start(tls_keys("prefer"));
  EXPECT_EQ(login("sslmode=disable"), "plain");
  EXPECT_EQ(login("sslmode=allow"), "plain");  // libpq tries plaintext first
  EXPECT_EQ(login("sslmode=prefer"), "TLSv1.3");
  EXPECT_EQ(login("sslmode=require"), "TLSv1.3");
  EXPECT_EQ(login("sslmode=verify-ca sslrootcert=" + certs_->ca_cert.string()), "TLSv1.3");
  EXPECT_EQ(login("host=localhost sslmode=verify-full sslrootcert=" + certs_->ca_cert.string()),
            "TLSv1.3");
  // libpq refuses a CA it does not trust: the proxy records the client's alert.
  EXPECT_NE(login("sslmode=verify-ca sslrootcert=" + certs_->other_ca_cert.string())
                .find("certificate verify failed"),
            std::string::npos);
  auto ev = closed_with("client_tls_unknown_ca");
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev.value("initiator", ""), "client");
  EXPECT_EQ(handshakes("unknown_ca"), 1);
  EXPECT_GE(handshakes("ok").value_or(0), 4);

  // The TLS version and cipher of each client: events, SHOW CLIENTS, /api/clients.
  auto held = connect("sslmode=require");
  ASSERT_EQ(PQstatus(held.get()), CONNECTION_OK);
  auto opens = proxy_->settled_events();
  int tls_opens = 0, plain_opens = 0;
  for (const auto& e : opens) {
    if (e.value("event", "") != "client.open") continue;
    const std::string tls = e.value("tls", "");
    if (tls.empty())
      ++plain_opens;
    else if (tls.starts_with("TLSv1.3/TLS_"))
      ++tls_opens;
  }
  EXPECT_EQ(plain_opens, 2);
  EXPECT_EQ(tls_opens, 5);
  auto console = pq_connect(proxy_->conninfo("app", "app-pw", "pgbouncer"));
  PGresult* r = PQexec(console.get(), "SHOW CLIENTS");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
  const int tls_col = PQfnumber(r, "tls");
  ASSERT_GE(tls_col, 0);
  int tls_rows = 0;
  for (int i = 0; i < PQntuples(r); ++i)
    tls_rows += std::string(PQgetvalue(r, i, tls_col)).starts_with("TLSv1.3/");
  PQclear(r);
  EXPECT_EQ(tls_rows, 1);  // `held`; the console itself is plaintext
  auto api = nlohmann::json::parse(http_get(admin_port_, "/api/clients").body);
  int api_tls = 0;
  for (const auto& c : api) api_tls += c.value("tls", "").starts_with("TLSv1.3/");
  EXPECT_EQ(api_tls, 1);
}

TEST_F(ClientTls, RequireRefusesPlaintextButTakesPlaintextCancels) {
  start(tls_keys("require"));
  const std::string refused = login("sslmode=disable");
  EXPECT_NE(refused.find("pgwarden accepts only TLS connections (client_tls_sslmode = require)"),
            std::string::npos)
      << refused;
  auto ev = closed_with("client_tls_required");
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev.value("sqlstate", ""), "28000");
  EXPECT_EQ(login("sslmode=prefer"), "TLSv1.3");

  // libpq sends cancel requests in plaintext: they still reach the server.
  auto c = connect("sslmode=require");
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK);
  ASSERT_EQ(PQsendQuery(c.get(), "select pg_sleep(30)"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PGcancel* cancel = PQgetCancel(c.get());
  char err[256];
  ASSERT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(c.get());
  ASSERT_NE(res, nullptr);
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "57014");
  PQclear(res);
  while ((res = PQgetResult(c.get()))) PQclear(res);
}

TEST_F(ClientTls, VerifyCaDemandsATrustedClientCertificate) {
  start(tls_keys("verify-ca"));
  EXPECT_EQ(login("sslmode=require " + client_cert(certs_->client_cert, certs_->client_key)),
            "TLSv1.3");
  // Another user may present it: verify-ca checks only who signed it.
  EXPECT_EQ(
      login("sslmode=require " + client_cert(certs_->client_cert, certs_->client_key), "other"),
      "TLSv1.3");
  EXPECT_NE(login("sslmode=require sslcert=/nonexistent sslkey=/nonexistent"), "TLSv1.3");
  auto missing = closed_with("client_tls_cert_missing");
  ASSERT_TRUE(missing.is_object());
  EXPECT_EQ(missing.value("initiator", ""), "proxy");
  EXPECT_NE(login("sslmode=require " + client_cert(certs_->expired_cert, certs_->expired_key)),
            "TLSv1.3");
  EXPECT_TRUE(closed_with("client_tls_cert_expired").is_object());
  EXPECT_EQ(handshakes("cert_missing"), 1);
  EXPECT_EQ(handshakes("cert_expired"), 1);
  EXPECT_NE(login("sslmode=disable").find("pgwarden accepts only TLS"), std::string::npos)
      << "plaintext refused under verify-ca";
}

TEST_F(ClientTls, AClientCertificateFromAnUnknownCaIsRefused) {
  start("client_tls_sslmode = \"verify-ca\"\nclient_tls_cert_file = " + q(certs_->server_cert) +
        "\nclient_tls_key_file = " + q(certs_->server_key) +
        "\nclient_tls_ca_file = " + q(certs_->other_ca_cert));
  EXPECT_NE(login("sslmode=require " + client_cert(certs_->client_cert, certs_->client_key)),
            "TLSv1.3");
  auto ev = closed_with("client_tls_unknown_ca");
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev.value("initiator", ""), "proxy");
}

TEST_F(ClientTls, VerifyFullAndCertAuthMatchTheCommonNameToTheUser) {
  start(tls_keys("verify-full"));
  const std::string cert = client_cert(certs_->client_cert, certs_->client_key);  // CN=app
  EXPECT_EQ(login("sslmode=require " + cert), "TLSv1.3");
  const std::string refused = login("sslmode=require " + cert, "other");
  EXPECT_NE(refused.find("certificate validation (client_tls_sslmode = verify-full) failed for "
                         "user \"other\": the certificate's common name is \"app\""),
            std::string::npos)
      << refused;
  ASSERT_TRUE(process_alive(proxy_->pid())) << proxy_->stderr_text();
  auto ev = closed_with("client_cert_mismatch");
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev.value("sqlstate", ""), "28000");

  // auth_type = cert: no password at all, the certificate is the credential.
  start(tls_keys("verify-ca") + "\nauth_type = \"cert\"");
  auto c = pq_connect("host=127.0.0.1 port=" + std::to_string(proxy_->port()) +
                      " user=app dbname=app sslmode=require " + cert);
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(pq_exec(c.get(), "select current_user").value, "app");
  auto other = pq_connect("host=127.0.0.1 port=" + std::to_string(proxy_->port()) +
                          " user=other dbname=app sslmode=require " + cert);
  EXPECT_NE(std::string(PQerrorMessage(other.get()))
                .find("certificate authentication failed for user \"other\""),
            std::string::npos)
      << PQerrorMessage(other.get());
}

// A TLS client on a raw socket, as PostgreSQL 17 connects with
// sslnegotiation=direct: no SSLRequest, ALPN "postgresql".
struct DirectTls {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd = -1;
  std::string error;
  DirectTls(int port, const std::string& alpn) {
    fd = raw_connect(port);
    ssl = SSL_new(ctx);
    if (!alpn.empty()) {
      std::string wire(1, static_cast<char>(alpn.size()));
      wire += alpn;
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      error = buf;
    }
  }
  ~DirectTls() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
  // Sends a startup packet for app/app and returns the first bytes answered.
  std::string startup() {
    std::string pkt, body;
    body.append("\0\3\0\0", 4);
    for (const char* s : {"user", "app", "database", "app", ""}) body.append(s, strlen(s) + 1);
    const uint32_t len = htonl(static_cast<uint32_t>(body.size() + 4));
    pkt.append(reinterpret_cast<const char*>(&len), 4);
    pkt += body;
    SSL_write(ssl, pkt.data(), static_cast<int>(pkt.size()));
    char buf[512];
    const int n = SSL_read(ssl, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
};

TEST_F(ClientTls, DirectTlsWithAlpnIsServedAndWithoutItRefused) {
  start(tls_keys("require"));
  {
    DirectTls direct(proxy_->port(), "postgresql");
    ASSERT_EQ(direct.error, "");
    const std::string reply = direct.startup();
    ASSERT_GE(reply.size(), 9u);
    EXPECT_EQ(reply[0], 'R');  // the SCRAM request: the login goes on over TLS
    EXPECT_NE(reply.find("SCRAM-SHA-256"), std::string::npos);
  }
  {
    DirectTls no_alpn(proxy_->port(), "");
    ASSERT_EQ(no_alpn.error, "");
    char buf[512];
    const int n = SSL_read(no_alpn.ssl, buf, sizeof buf);
    ASSERT_GT(n, 0);
    const std::string reply(buf, static_cast<size_t>(n));
    EXPECT_EQ(reply[0], 'E');
    EXPECT_NE(reply.find("without ALPN"), std::string::npos) << reply;
    EXPECT_TRUE(closed_with("client_tls_alpn").is_object());
  }
  {
    DirectTls http(proxy_->port(), "http/1.1");
    EXPECT_NE(http.error.find("no application protocol"), std::string::npos) << http.error;
    // The proxy counts once its side of the handshake has failed.
    for (int i = 0; i < 50 && handshakes("alpn") != 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(handshakes("alpn"), 2);
  }
}

TEST_F(ClientTls, UnencryptedBytesAfterAnSslRequestAreRefused) {
  start(tls_keys("prefer"));
  const int fd = raw_connect(proxy_->port());
  std::string bytes;
  const uint32_t len = htonl(8), code = htonl(pgw::wire::kSslRequest);
  bytes.append(reinterpret_cast<const char*>(&len), 4);
  bytes.append(reinterpret_cast<const char*>(&code), 4);
  bytes += "injected";  // what a man in the middle would slip in before TLS
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  const std::string reply = read_all(fd, 5);
  ::close(fd);
  ASSERT_FALSE(reply.empty());
  EXPECT_EQ(reply[0], 'E');
  EXPECT_NE(reply.find("received unencrypted data after SSL request"), std::string::npos);
  EXPECT_NE(reply.find("08P01"), std::string::npos);
}

TEST_F(ClientTls, ProtocolRangeIsEnforced) {
  start(tls_keys("require") + "\nclient_tls_protocols = \"tlsv1.3\"");
  EXPECT_EQ(login("sslmode=require"), "TLSv1.3");
  EXPECT_NE(login("sslmode=require ssl_max_protocol_version=TLSv1.2"), "TLSv1.3");
  EXPECT_TRUE(closed_with("client_tls_protocol").is_object());
  start(tls_keys("require") + "\nclient_tls_protocols = \"tlsv1.2\"");
  EXPECT_EQ(login("sslmode=require"), "TLSv1.2");
}

TEST_F(ClientTls, ReloadSwapsTheCertificateWithoutDroppingClients) {
  const fs::path cert = dir_ / "reload.crt", key = dir_ / "reload.key";
  fs::copy_file(certs_->server_cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(certs_->server_key, key, fs::copy_options::overwrite_existing);
  start("client_tls_sslmode = \"require\"\nclient_tls_cert_file = " + q(cert) +
            "\nclient_tls_key_file = " + q(key),
        "");
  const std::string verify_full =
      "host=localhost sslmode=verify-full sslrootcert=" + certs_->ca_cert.string();
  auto held = connect(verify_full);
  ASSERT_EQ(PQstatus(held.get()), CONNECTION_OK) << PQerrorMessage(held.get());
  // Another host's certificate: verify-full logins fail from now on.
  fs::copy_file(certs_->wrong_host_cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(certs_->wrong_host_key, key, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(proxy_->pid(), SIGHUP), 0);
  ASSERT_TRUE(proxy_->wait_event({{"event", "proxy.reload"}}).is_object());
  EXPECT_NE(login(verify_full).find("does not match host name"), std::string::npos);
  EXPECT_EQ(login("sslmode=require"), "TLSv1.3");
  EXPECT_EQ(pq_exec(held.get(), "select 2").value, "2");  // the open client keeps its TLS
  // A key that does not match the certificate: the reload is refused whole.
  fs::copy_file(certs_->server_key, key, fs::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(proxy_->pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_NE(proxy_->stderr_text().find("RELOAD failed, configuration unchanged: proxy: cannot "
                                       "load client_tls_key_file"),
            std::string::npos)
      << proxy_->stderr_text();
  EXPECT_EQ(login("sslmode=require"), "TLSv1.3");
}

TEST_F(ClientTls, PgbenchRunsOverTls) {
  start(tls_keys("require"));
  const fs::path script = dir_ / "select.sql";
  std::ofstream(script) << "select 1;\n";
  for (const std::string flags : {"", " -C"}) {
    std::string out;
    const int rc = run_command("PGPASSWORD=app-pw PGSSLMODE=require pgbench -n -h 127.0.0.1 -p " +
                                   std::to_string(proxy_->port()) + " -U app -c 4 -j 2 -t 50" +
                                   flags + " -f " + script.string() + " app 2>&1",
                               &out);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("number of transactions actually processed: 200/200"), std::string::npos)
        << out;
  }
  EXPECT_GE(handshakes("ok").value_or(0), 204);  // 4 persistent clients, then one per transaction
}

// While a client waits for a link its input is read through TLS (a raw peek
// would take TLS records for input): a TLS client that leaves the queue runs
// nothing, and one that pipelines more while it waits has all of it served,
// in order.
TEST_F(ClientTls, AWaitingTlsClientIsWatchedThroughTls) {
  start(tls_keys("require") + "\ndefault_pool_size = 1");
  auto holder = connect("sslmode=require");
  ASSERT_TRUE(pq_exec(holder.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(holder.get(), "select 1").ok);
  {
    auto leaver = connect("sslmode=require");
    ASSERT_EQ(PQstatus(leaver.get()), CONNECTION_OK);
    ASSERT_EQ(PQsendQuery(leaver.get(), "insert into items values (1)"), 1);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }  // PQfinish: Terminate, close_notify, FIN
  auto gone =
      proxy_->wait_event({{"event", "client.close"}, {"cause", "client_gone_while_waiting"}});
  ASSERT_TRUE(gone.is_object());
  EXPECT_EQ(gone.value("state", ""), "waiting_for_server");

  auto piped = connect("sslmode=require");
  ASSERT_EQ(PQstatus(piped.get()), CONNECTION_OK);
  ASSERT_EQ(PQenterPipelineMode(piped.get()), 1);
  ASSERT_EQ(
      PQsendQueryParams(piped.get(), "select 'first'", 0, nullptr, nullptr, nullptr, nullptr, 0),
      1);
  ASSERT_EQ(PQsendFlushRequest(piped.get()), 1);
  ASSERT_EQ(PQflush(piped.get()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // now queued for the link
  ASSERT_EQ(
      PQsendQueryParams(piped.get(), "select 'second'", 0, nullptr, nullptr, nullptr, nullptr, 0),
      1);
  ASSERT_EQ(PQpipelineSync(piped.get()), 1);
  ASSERT_EQ(PQflush(piped.get()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(pq_exec(holder.get(), "commit").ok);
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    PGresult* r = PQgetResult(piped.get());
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
    got.emplace_back(PQgetvalue(r, 0, 0));
    PQclear(r);
    EXPECT_EQ(PQgetResult(piped.get()), nullptr);  // end of this query's results
  }
  PGresult* sync = PQgetResult(piped.get());
  EXPECT_EQ(PQresultStatus(sync), PGRES_PIPELINE_SYNC);
  PQclear(sync);
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(pg_->psql("select count(*) from items", "app"), "0");
}

// The command-line clients themselves, in each sslmode, against a proxy that
// prefers TLS and one that requires it: what psql reports and whether
// pgbench's transactions all ran.
TEST_F(ClientTls, PsqlAndPgbenchInEachSslmode) {
  const std::string ca = certs_->ca_cert.string();
  const fs::path script = dir_ / "one.sql";
  std::ofstream(script) << "select 1;\n";
  const std::vector<std::pair<std::string, std::string>> modes = {
      {"disable", ""},
      {"allow", ""},
      {"prefer", ""},
      {"require", ""},
      {"verify-ca", " sslrootcert=" + ca},
      {"verify-full", " host=localhost sslrootcert=" + ca}};
  for (const std::string server_mode : {"prefer", "require"}) {
    start(tls_keys(server_mode));
    for (const auto& [mode, extra] : modes) {
      SCOPED_TRACE(server_mode + " proxy, client sslmode=" + mode);
      const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(proxy_->port()) +
                                   " user=app password=app-pw dbname=app sslmode=" + mode + extra;
      // libpq's allow tries plaintext first; disable never asks for TLS.
      const bool plaintext = mode == "disable" || mode == "allow";
      const bool refused = plaintext && server_mode == std::string("require") && mode == "disable";
      std::string out;
      const int rc =
          run_command("psql '" + conninfo + "' -Atc \"select 'ok'\" -c '\\conninfo' 2>&1", &out);
      if (refused) {
        EXPECT_NE(rc, 0) << out;
        EXPECT_NE(out.find("pgwarden accepts only TLS connections"), std::string::npos) << out;
        continue;
      }
      EXPECT_EQ(rc, 0) << out;
      EXPECT_EQ(out.find("ok\n"), 0u) << out;
      // allow retries with TLS after the require proxy's plaintext refusal.
      const bool tls = !plaintext || server_mode == std::string("require");
      EXPECT_EQ(out.find("SSL connection (protocol: TLSv1.3") != std::string::npos, tls) << out;
      std::string bench;
      EXPECT_EQ(
          run_command("pgbench -n -t 5 -c 1 -f " + script.string() + " '" + conninfo + "' 2>&1",
                      &bench),
          0)
          << bench;
      EXPECT_NE(bench.find("number of transactions actually processed: 5/5"), std::string::npos)
          << bench;
    }
  }
}

TEST_F(ClientTls, NodeDriversConnectOverTls) {
  start(tls_keys("require"));
  std::string out;
  const int rc = run_command(std::string("cd ") + PGWARDEN_TESTS_NODE_DIR +
                                 " && PROXY_PORT=" + std::to_string(proxy_->port()) +
                                 " CA_FILE=" + certs_->ca_cert.string() +
                                 " OTHER_CA_FILE=" + certs_->other_ca_cert.string() +
                                 " timeout 120 node proxy_tls.mjs 2>&1",
                             &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  EXPECT_GE(handshakes("ok").value_or(0), 6);
}

TEST_F(ClientTls, BadSettingsStopTheProxyWithTheKeyNamed) {
  auto fails_with = [&](const std::string& keys, const std::string& expected) {
    const fs::path cfg = dir_ / "bad.toml";
    std::ofstream(cfg) << "[proxy]\n"
                       << keys << "\n[databases.app]\nhost = \"127.0.0.1\"\nport = 5432\n"
                       << "[users.app]\npassword = \"x\"\n";
    std::string out;
    const int rc = run_command(pgwarden_bin() + " proxy --config " + cfg.string() + " 2>&1", &out);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find(expected), std::string::npos) << out;
  };
  fails_with("client_tls_sslmode = \"require\"",
             "client_tls_cert_file and client_tls_key_file are not both set");
  fails_with(tls_keys("prefer") + "\nclient_tls_ciphers = \"NOPE-NOTHING\"",
             "client_tls_ciphers \"NOPE-NOTHING\"");
  fails_with(
      "client_tls_sslmode = \"prefer\"\nclient_tls_cert_file = \"/nonexistent.crt\"\n"
      "client_tls_key_file = " +
          q(certs_->server_key),
      "cannot load client_tls_cert_file \"/nonexistent.crt\"");
  fails_with(tls_keys("require") + "\nauth_type = \"cert\"",
             "auth_type is cert but proxy.client_tls_sslmode is require");
  fails_with("client_tls_protocols = \"sslv3\"", "'proxy.client_tls_protocols' must list");
}

}  // namespace
