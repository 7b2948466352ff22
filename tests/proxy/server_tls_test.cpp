// TLS towards servers: libpq's sslmode values against a PostgreSQL 15 that
// accepts TLS connections only (hostssl, SCRAM), certificates the harness
// makes (valid, expired, another host's, an unknown CA), channel binding, and
// servers that try to downgrade pgwarden's authentication.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include "http_get.hpp"
#include "pgwarden/wire/codec.hpp"
#include "stack.hpp"
#include "test_certs.hpp"

using namespace pgw::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHostsslOnly =
    "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject";

class ServerTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<TempTestCerts>();
    dir_ = certs_->dir;
    pg_ = make_cluster(certs_->server_cert, certs_->server_key);
  }
  static void TearDownTestSuite() {
    pg_.reset();
    certs_.reset();  // and its directory
  }
  static std::unique_ptr<PgCluster> make_cluster(const fs::path& cert, const fs::path& key) {
    auto pg = std::make_unique<PgCluster>(
        PgClusterOptions{.ssl_cert = cert, .ssl_key = key, .hba_tcp_lines = kHostsslOnly});
    pg->psql("create role app login password 'app-pw'");
    pg->psql("create database app owner app");
    return pg;
  }

  // A proxy whose database `app` has these extra keys (sslmode...).
  void start(int port, const std::string& db_keys) {
    proxy_ = std::make_unique<ProxyProcess>(
        "pool_mode = \"transaction\"\n[databases.app]\nhost = \"127.0.0.1\"\nport = " +
        std::to_string(port) + "\n" + db_keys + "\n[users.app]\npassword = \"app-pw\"\n");
  }
  Conn client() { return pq_connect(proxy_->conninfo("app", "app-pw", "app")); }
  static std::string q(const fs::path& p) { return "\"" + p.string() + "\""; }

  // The server-side view of the link: whether it is TLS, and its version.
  std::string link_tls() {
    auto c = client();
    auto r = pq_exec(c.get(),
                     "select ssl::text || ' ' || coalesce(version, '') from pg_stat_ssl "
                     "where pid = pg_backend_pid()");
    return r.ok ? r.value : "error: " + r.message;
  }
  // The cause (and SQLSTATE) the proxy gives for a link it could not open,
  // from its pool.error event: the client may be refused at login (the first
  // login opens a link for the server's parameters), where libpq keeps only
  // the message.
  std::string refused_cause(std::string* sqlstate = nullptr) {
    auto c = client();
    PgResult r;
    if (PQstatus(c.get()) != CONNECTION_OK)
      r.message = PQerrorMessage(c.get());
    else
      r = pq_exec(c.get(), "select 1");
    if (r.ok) return "connected";
    auto ev = proxy_->wait_event({{"event", "pool.error"}}, 10);
    if (!ev.is_object()) return "no pool.error event: " + r.message;
    if (sqlstate) *sqlstate = ev.value("sqlstate", "");
    EXPECT_NE(r.message.find(ev.value("message", "?")), std::string::npos)
        << "the client was not told the reason: " << r.message;
    return ev.value("cause", "");
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<TempTestCerts> certs_;
  static inline std::unique_ptr<PgCluster> pg_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(ServerTls, VerifyFullWithChannelBindingReachesAHostsslOnlyServer) {
  // channel_binding = require proves SCRAM-SHA-256-PLUS was used: PostgreSQL
  // checks the binding data against its own certificate.
  start(pg_->port(), "sslmode = \"verify-full\"\nsslrootcert = " + q(certs_->ca_cert) +
                         "\nchannel_binding = \"require\"");
  EXPECT_EQ(link_tls(), "true TLSv1.3");
}

TEST_F(ServerTls, TheTlsVersionAndCipherAreInEventsConsoleApiAndMetrics) {
  const int admin = free_port();
  proxy_ = std::make_unique<ProxyProcess>(
      "pool_mode = \"transaction\"\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin) +
      "\"\nadmin_users = [\"app\"]\n[databases.app]\nhost = \"127.0.0.1\"\nport = " +
      std::to_string(pg_->port()) +
      "\nsslmode = \"verify-full\"\nsslrootcert = " + q(certs_->ca_cert) +
      "\n[databases.bad]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg_->port()) +
      "\ndbname = \"app\"\nsslmode = \"verify-ca\"\nsslrootcert = " + q(certs_->other_ca_cert) +
      "\n[users.app]\npassword = \"app-pw\"\n");
  EXPECT_EQ(link_tls(), "true TLSv1.3");
  auto open = proxy_->wait_event({{"event", "server.open"}});
  ASSERT_TRUE(open.is_object());
  const std::string tls = open.value("tls", "");
  EXPECT_TRUE(tls.starts_with("TLSv1.3/TLS_")) << tls;
  {
    auto console = pq_connect(proxy_->conninfo("app", "app-pw", "pgbouncer"));
    PGresult* r = PQexec(console.get(), "SHOW SERVERS");
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(console.get());
    const int col = PQfnumber(r, "tls");
    ASSERT_GE(col, 0);
    ASSERT_EQ(PQntuples(r), 1);
    EXPECT_EQ(std::string(PQgetvalue(r, 0, col)), tls);
    PQclear(r);
  }
  EXPECT_NE(http_get(admin, "/api/servers").body.find("\"tls\":\"" + tls + "\""),
            std::string::npos);
  auto bad = pq_connect(proxy_->conninfo("app", "app-pw", "bad"));
  if (PQstatus(bad.get()) == CONNECTION_OK) pq_exec(bad.get(), "select 1");
  ASSERT_TRUE(proxy_->wait_event({{"event", "pool.error"}, {"cause", "server_tls_unknown_ca"}})
                  .is_object());
  const std::string m = http_get(admin, "/metrics").body;
  EXPECT_EQ(metric_value(m, "pgwarden_server_tls_handshakes_total{pool=\"app/app\",result=\"ok\"}"),
            1.0);
  EXPECT_EQ(metric_value(
                m, "pgwarden_server_tls_handshakes_total{pool=\"bad/app\",result=\"unknown_ca\"}"),
            1.0);
}

TEST_F(ServerTls, PreferIsTheDefaultAndEncrypts) {
  start(pg_->port(), "");
  EXPECT_EQ(link_tls(), "true TLSv1.3");
}

TEST_F(ServerTls, AllowTriesPlaintextThenTls) {
  start(pg_->port(), "sslmode = \"allow\"");
  EXPECT_EQ(link_tls(), "true TLSv1.3");
}

TEST_F(ServerTls, DisableIsRefusedByAHostsslOnlyServerWithItsOwnReason) {
  start(pg_->port(), "sslmode = \"disable\"");
  std::string sqlstate;
  EXPECT_EQ(refused_cause(&sqlstate), "server_login_failed");
  EXPECT_EQ(sqlstate, "28000");
}

TEST_F(ServerTls, AnUnknownCaIsNamed) {
  start(pg_->port(), "sslmode = \"verify-ca\"\nsslrootcert = " + q(certs_->other_ca_cert));
  std::string sqlstate;
  EXPECT_EQ(refused_cause(&sqlstate), "server_tls_unknown_ca");
  EXPECT_EQ(sqlstate, "08001");
}

TEST_F(ServerTls, RequireWithARootCertVerifiesTheChainAsLibpqDoes) {
  start(pg_->port(), "sslmode = \"require\"\nsslrootcert = " + q(certs_->other_ca_cert));
  EXPECT_EQ(refused_cause(), "server_tls_unknown_ca");
}

TEST_F(ServerTls, AnotherHostsCertificateIsAMismatchForVerifyFullOnly) {
  auto wrong = make_cluster(certs_->wrong_host_cert, certs_->wrong_host_key);
  start(wrong->port(), "sslmode = \"verify-full\"\nsslrootcert = " + q(certs_->ca_cert));
  EXPECT_EQ(refused_cause(), "server_tls_hostname_mismatch");
  start(wrong->port(), "sslmode = \"verify-ca\"\nsslrootcert = " + q(certs_->ca_cert));
  EXPECT_EQ(link_tls(), "true TLSv1.3");
}

TEST_F(ServerTls, AnExpiredCertificateIsNamed) {
  auto expired = make_cluster(certs_->expired_cert, certs_->expired_key);
  start(expired->port(), "sslmode = \"verify-ca\"\nsslrootcert = " + q(certs_->ca_cert));
  EXPECT_EQ(refused_cause(), "server_tls_cert_expired");
}

TEST_F(ServerTls, RequireAgainstAServerWithoutTlsIsRefused) {
  PgCluster plain;
  plain.psql("create role app login password 'app-pw'");
  plain.psql("create database app owner app");
  start(plain.port(), "sslmode = \"require\"");
  EXPECT_EQ(refused_cause(), "server_tls_refused");
  start(plain.port(), "sslmode = \"prefer\"");
  EXPECT_EQ(link_tls(), "false ");
}

TEST_F(ServerTls, AClientCertificateIsPresentedWhenTheServerDemandsOne) {
  // pg_hba's clientcert=verify-full: a certificate signed by the server's CA
  // and naming the user (CN=app), on top of SCRAM.
  PgCluster strict(PgClusterOptions{
      .ssl_cert = certs_->server_cert,
      .ssl_key = certs_->server_key,
      .ssl_ca = certs_->ca_cert,
      .hba_tcp_lines = "hostssl all postgres 127.0.0.1/32 scram-sha-256\n"  // the harness's psql
                       "hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-full\n"
                       "hostnossl all all 127.0.0.1/32 reject"});
  strict.psql("create role app login password 'app-pw'");
  strict.psql("create database app owner app");
  start(strict.port(), "sslmode = \"verify-full\"\nsslrootcert = " + q(certs_->ca_cert));
  std::string sqlstate;
  EXPECT_EQ(refused_cause(&sqlstate), "server_login_failed");
  EXPECT_EQ(sqlstate, "28000");
  start(strict.port(), "sslmode = \"verify-full\"\nsslrootcert = " + q(certs_->ca_cert) +
                           "\nsslcert = " + q(certs_->client_cert) +
                           "\nsslkey = " + q(certs_->client_key));
  EXPECT_EQ(link_tls(), "true TLSv1.3");
}

TEST_F(ServerTls, ReloadReadsCertificatesAgainWithoutDroppingConnections) {
  const fs::path ca = dir_ / "reload-ca.crt";
  fs::copy_file(certs_->ca_cert, ca, fs::copy_options::overwrite_existing);
  proxy_ = std::make_unique<ProxyProcess>(
      "pool_mode = \"session\"\n[databases.app]\nhost = \"127.0.0.1\"\nport = " +
      std::to_string(pg_->port()) + "\nsslmode = \"verify-ca\"\nsslrootcert = " + q(ca) +
      "\n[users.app]\npassword = \"app-pw\"\n");
  auto reloads = [&] {
    int n = 0;
    for (const auto& ev : proxy_->events()) n += ev.value("event", "") == "proxy.reload";
    return n;
  };
  auto reload = [&](int expected) {
    ASSERT_EQ(::kill(proxy_->pid(), SIGHUP), 0);
    for (int i = 0; i < 100 && reloads() < expected; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(reloads(), expected);
  };
  auto held = client();  // session mode: keeps its TLS link throughout
  ASSERT_EQ(pq_exec(held.get(), "select 1").value, "1");
  // The file now trusts another CA: new links fail, the open one stays.
  fs::copy_file(certs_->other_ca_cert, ca, fs::copy_options::overwrite_existing);
  reload(1);
  EXPECT_EQ(refused_cause(), "server_tls_unknown_ca");
  EXPECT_EQ(pq_exec(held.get(), "select 2").value, "2");
  fs::copy_file(certs_->ca_cert, ca, fs::copy_options::overwrite_existing);
  reload(2);
  EXPECT_EQ(link_tls(), "true TLSv1.3");
  EXPECT_TRUE(process_alive(proxy_->pid())) << proxy_->stderr_text();
}

TEST_F(ServerTls, BackendUrlCarriesSslmodeAndRejectsUnknownParameters) {
  const std::string url = "postgres://app:app-pw@127.0.0.1:" + std::to_string(pg_->port()) +
                          "/app?sslmode=verify-full&sslrootcert=" + certs_->ca_cert.string();
  proxy_ = std::make_unique<ProxyProcess>(
      "pool_mode = \"transaction\"\n[users.app]\npassword = "
      "\"app-pw\"\n",
      std::vector<std::string>{"--backend", url});
  EXPECT_EQ(link_tls(), "true TLSv1.3");
  proxy_.reset();

  std::string out;
  const int rc = run_command(pgwarden_bin() + " proxy --backend 'postgres://app@127.0.0.1:1/app?" +
                                 "sslmode=require&sslcompression=1' 2>&1",
                             &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("unsupported parameter 'sslcompression'"), std::string::npos) << out;
}

// A server that answers pgwarden's login as `script` says, for the downgrade
// cases a real PostgreSQL never produces.
class FakeServer {
 public:
  enum class Script { cleartext, scram_without_final };
  explicit FakeServer(Script script) : script_(script) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  static bool read_n(int fd, std::string& buf, size_t n) {
    while (buf.size() < n) {
      char b[4096];
      ssize_t got = ::recv(fd, b, sizeof b, 0);
      if (got <= 0) return false;
      buf.append(b, static_cast<size_t>(got));
    }
    return true;
  }
  // The next typed message's body (the startup packet has no type byte).
  static bool read_message(int fd, std::string& buf, bool typed, std::string& body) {
    const size_t head = typed ? 5 : 4;
    if (!read_n(fd, buf, head)) return false;
    const uint32_t len = pgw::wire::read_u32(buf.data() + head - 4);
    if (!read_n(fd, buf, head - 4 + len)) return false;
    body = buf.substr(head, len - 4);
    buf.erase(0, head - 4 + len);
    return true;
  }
  static void send_auth(int fd, uint32_t code, const std::string& data) {
    std::string m(1, 'R');
    pgw::wire::put_u32(m, static_cast<uint32_t>(8 + data.size()));
    pgw::wire::put_u32(m, code);
    m += data;
    ::send(fd, m.data(), m.size(), MSG_NOSIGNAL);
  }
  void serve() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::string buf, body;
      if (read_message(fd, buf, false, body)) {
        if (script_ == Script::cleartext) {
          send_auth(fd, 3, "");
        } else {
          send_auth(fd, 10, std::string("SCRAM-SHA-256\0\0", 15));
          if (read_message(fd, buf, true, body)) {
            // SASLInitialResponse: mechanism\0, int32 length, client-first.
            const std::string first = body.substr(body.find('\0') + 5);
            const std::string nonce = first.substr(first.find("r=") + 2);
            send_auth(fd, 11, "r=" + nonce + "fake,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
            if (read_message(fd, buf, true, body)) send_auth(fd, 0, "");  // no SASLFinal
          }
        }
        std::string rest;
        read_message(fd, buf, true, rest);  // until pgwarden hangs up
      }
      ::close(fd);
    }
  }
  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ServerTls, CleartextWhenScramIsRequiredIsADowngrade) {
  FakeServer fake(FakeServer::Script::cleartext);
  start(fake.port(), "sslmode = \"disable\"\nrequire_auth = \"scram-sha-256\"");
  std::string sqlstate;
  EXPECT_EQ(refused_cause(&sqlstate), "server_auth_downgrade");
  EXPECT_EQ(sqlstate, "28000");
}

TEST_F(ServerTls, AuthenticationOkBeforeScramsFinalMessageIsADowngrade) {
  // Always refused: the server never proved it knows the password.
  FakeServer fake(FakeServer::Script::scram_without_final);
  start(fake.port(), "sslmode = \"disable\"");
  EXPECT_EQ(refused_cause(), "server_auth_downgrade");
}

}  // namespace
