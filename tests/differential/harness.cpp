#include "harness.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "pgwarden/wire/codec.hpp"

namespace pgw::test::diff {

namespace wire = pgw::wire;

namespace {
// How long one step may take to read what it waits for. The scripts' queries
// are tiny: only a pgwarden hang (or a machine far too slow) reaches it.
constexpr double kStepSeconds = 5;
// How long the observer waits for the departed clients' work to end.
constexpr double kSettleSeconds = 10;
// How long the proxy may take to give back every server link.
constexpr double kLeakSeconds = 5;

const char* const kInitialRows = "(1, 'one'), (2, 'two'), (3, 'three')";

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string client_name(int i) {
  return std::string(1, static_cast<char>('A' + i));
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

template <typename Pred>
bool poll_until(double seconds, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    sleep_ms(20);
  }
}

// One row of SHOW POOLS for database `db`, by column name; empty if none.
std::map<std::string, std::string> pool_row(RawPg& console, const std::string& db,
                                            std::string* error) {
  console.send(RawPg::query("SHOW POOLS"));
  auto msgs = console.read_until('Z', 1, 5);
  std::map<std::string, std::string> out;
  std::vector<std::string> cols;
  for (const auto& m : msgs) {
    if (m.type == 'E') *error = "SHOW POOLS failed: " + first_sqlstate(msgs);
    if (m.type == 'T') cols = column_names(m.body);
    if (m.type != 'D') continue;
    auto vals = row_values(m.body);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < cols.size() && i < vals.size(); ++i) row[cols[i]] = vals[i].value_or("");
    if (row["database"] == db) out = row;
  }
  return out;
}
}  // namespace

const char* to_string(Path p) {
  switch (p) {
    case Path::direct:
      return "direct";
    case Path::session:
      return "session";
    case Path::transaction:
      return "transaction";
  }
  return "?";
}

std::string normalise(const RawMessage& m) {
  switch (m.type) {
    case 'S':  // ParameterStatus: the proxy's own login differs legitimately
    case 'K':  // BackendKeyData: a proxy hands out its own
    case 'A':  // NotificationResponse: asynchronous, compared apart
      return "";
    case 'E':
    case 'N': {
      wire::ErrorFields e;
      wire::parse_error_fields(m.body, e);
      return std::string(1, m.type) + " " + e.severity + " " + e.sqlstate;
    }
    case 'C':
      return "C " + std::string(m.body.c_str());
    case 'D': {
      std::vector<std::string> vals;
      for (const auto& v : row_values(m.body)) vals.push_back(v ? escape(*v) : "NULL");
      return "D " + join(vals, "|");
    }
    case 'T':
      return "T " + join(column_names(m.body), ",");
    case 'Z':
      return "Z " + m.body;
    case 'd':
      return "d " + escape(m.body);
    case 't':
      return "t " + (m.body.size() >= 2 ? std::to_string(wire::read_u16(m.body.data())) : "?");
    default:
      return std::string(1, m.type);
  }
}

std::string describe(const std::string& bytes) {
  std::vector<std::string> parts;
  std::string_view rest = bytes;
  while (!rest.empty()) {
    wire::Frame f;
    if (wire::next_frame(rest, 1u << 30, f) != wire::FrameStatus::ok) {
      parts.push_back("?");
      break;
    }
    size_t pos = 0;
    std::string_view a, b;
    switch (f.type) {
      case 'Q':
        parts.push_back("Q(" + std::string(f.body.substr(0, f.body.size() - 1)) + ")");
        break;
      case 'P':
        wire::read_cstring(f.body, pos, a);
        wire::read_cstring(f.body, pos, b);
        parts.push_back("P(" + std::string(a) + ": " + std::string(b) + ")");
        break;
      case 'B':
        wire::read_cstring(f.body, pos, a);
        wire::read_cstring(f.body, pos, b);
        parts.push_back("B(" + std::string(a) + "/" + std::string(b) + ")");
        break;
      case 'E': {
        wire::read_cstring(f.body, pos, a);
        uint32_t max = pos + 4 <= f.body.size() ? wire::read_u32(f.body.data() + pos) : 0;
        parts.push_back("E(" + std::string(a) + (max ? "," + std::to_string(max) : "") + ")");
        break;
      }
      case 'D':
      case 'C':
        parts.push_back(std::string(1, f.type) + "(" + std::string(f.body.substr(0, 1)) + " " +
                        std::string(f.body.substr(1, f.body.size() - 2)) + ")");
        break;
      case 'd':
        parts.push_back("d(" + escape(f.body) + ")");
        break;
      case 'f':
        parts.push_back("f(" + std::string(f.body.substr(0, f.body.size() - 1)) + ")");
        break;
      default:
        parts.push_back(std::string(1, f.type));
    }
    rest.remove_prefix(f.size);
  }
  return join(parts, " ");
}

std::string render(const Script& script, const RunResult& run) {
  std::string out;
  for (size_t i = 0; i < run.steps.size(); ++i) {
    const Step& s = script.steps[i];
    out += "  step " + std::to_string(i) + " [" + client_name(s.client) + "] " +
           (s.cancel ? std::string("CancelRequest") : describe(s.send)) + "\n      -> " +
           join(run.steps[i], " ; ") + "\n";
  }
  for (size_t c = 0; c < run.notifications.size(); ++c) {
    if (!run.notifications[c].empty())
      out += "  notifications to " + client_name(static_cast<int>(c)) + ": " +
             join(run.notifications[c], " ; ") + "\n";
  }
  out += "  table t: " + join(run.state, " ; ") + "\n";
  for (const auto& p : run.problems) out += "  PROBLEM: " + p + "\n";
  return out;
}

RunResult expected_for(Path path, const Script& script, const RunResult& direct, bool complete) {
  RunResult e = direct;
  if (path != Path::transaction) return e;
  for (const auto& d : script.txn_steps)
    if (d.step < e.steps.size()) e.steps[d.step] = d.reads;
  if (script.txn_state_after != static_cast<size_t>(-1) && e.steps.size() > script.txn_state_after)
    e.state = script.txn_state;
  if (complete && script.txn_notifications_differ) e.notifications = script.txn_notifications;
  return e;
}

Harness::Harness(PgCluster& pg) : pg_(pg) {}

void Harness::prepare_cluster(PgCluster& pg) {
  pg.psql(std::string("create role ") + kUser + " login");
  pg.psql(std::string("create database ") + kDatabase + " owner " + kUser);
  pg.psql(
      "create table t(id int primary key, note text); alter table t owner to " + std::string(kUser),
      kDatabase);
}

std::string Harness::proxy_config(const PgCluster& pg, const std::string& mode) {
  // Two server links, so links are shared between a script's clients and
  // its observer; a stuck link shows as 53000 rather than an endless wait.
  return "pool_mode = \"" + mode +
         "\"\nauth_type = \"trust\"\ndefault_pool_size = 2\n"
         "[timeouts]\nquery_wait_timeout = \"5s\"\n"
         "[databases." +
         std::string(kDatabase) + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pg.port()) +
         "\n[users." + kUser + "]\npassword = \"unused\"\n";
}

void Harness::reset(const Target& target) {
  (void)target;
  // Every run starts from the same table and from fresh server sessions: the
  // proxies' links of earlier runs are ended (they notice and open new ones),
  // so no session state of one run can reach the next.
  auto admin = std::make_unique<RawPg>(pg_.port(), pg_.options().superuser, kDatabase);
  if (!admin->ok()) throw std::runtime_error("superuser login to the test cluster failed");
  std::string err;
  simple_rows(*admin,
              "select pg_terminate_backend(pid) from pg_stat_activity where usename = '" +
                  std::string(kUser) + "'",
              &err);
  poll_until(kSettleSeconds, [&] {
    auto rows = simple_rows(*admin, "select count(*) from pg_stat_activity where usename = '" +
                                        std::string(kUser) + "'");
    return rows && !rows->empty() && (*rows)[0][0] == "0";
  });
  if (!simple_rows(*admin, std::string("truncate t; insert into t values ") + kInitialRows, &err))
    throw std::runtime_error("table reset failed: " + err);
  admin->terminate();
}

bool Harness::wait_sleeping(double seconds) {
  RawPg admin(pg_.port(), pg_.options().superuser, kDatabase);
  return poll_until(seconds, [&] {
    auto rows = simple_rows(admin, "select count(*) from pg_stat_activity where usename = '" +
                                       std::string(kUser) +
                                       "' and state = 'active' and wait_event = 'PgSleep'");
    return rows && !rows->empty() && (*rows)[0][0] != "0";
  });
}

std::vector<std::string> Harness::read_state(const Target& target,
                                             std::vector<std::string>& problems) {
  RawPg obs(target.port, kUser, kDatabase);
  if (!obs.ok()) {
    std::vector<std::string> got;
    for (const auto& m : obs.greeting()) got.push_back(normalise(m));
    problems.push_back("observer could not log in: " + join(got, " ; "));
    return {};
  }
  // The departed clients' work must be over (rolled back, cancelled, or
  // committed) before the state is read: wait until no other session of the
  // app user is anything but idle.
  std::string err;
  const bool settled = poll_until(kSettleSeconds, [&] {
    auto rows = simple_rows(obs,
                            "select count(*) from pg_stat_activity where usename = current_user "
                            "and pid <> pg_backend_pid() and state is distinct from 'idle'",
                            &err);
    return rows && !rows->empty() && (*rows)[0][0] == "0";
  });
  if (!settled) {
    auto rows = simple_rows(obs,
                            "select coalesce(state, '?') || ': ' || query from pg_stat_activity "
                            "where usename = current_user and pid <> pg_backend_pid()",
                            &err);
    std::string list;
    if (rows)
      for (const auto& r : *rows) list += " [" + r[0] + "]";
    problems.push_back("sessions of the departed clients still busy after " +
                       std::to_string(static_cast<int>(kSettleSeconds)) + " s:" + list +
                       (err.empty() ? "" : " (error " + err + ")"));
  }
  std::vector<std::string> state;
  auto rows = simple_rows(obs, "select id, note from t order by id", &err);
  if (!rows) {
    problems.push_back("observer could not read t: " + err);
    return state;
  }
  for (const auto& r : *rows) state.push_back(join(r, "|"));
  obs.terminate();
  return state;
}

void Harness::check_no_leak(const Target& target, bool clients_connected, int expected_active,
                            std::vector<std::string>& problems) {
  if (!target.proxy) return;
  if (!process_alive(target.proxy->pid())) {
    problems.push_back("the proxy exited: " + target.proxy->stderr_text());
    return;
  }
  RawPg console(target.port, kUser, "pgbouncer");
  if (!console.ok()) {
    problems.push_back("admin console login failed");
    return;
  }
  std::map<std::string, std::string> row;
  std::string err;
  // With every client gone, no client may be counted and no link lent; with
  // idle clients connected in transaction mode, no link may be lent either.
  auto clean = [&] {
    row = pool_row(console, kDatabase, &err);
    if (!err.empty()) return false;
    if (row.empty()) return !clients_connected;  // no pool yet: nothing to leak
    const bool clients_ok =
        clients_connected || (row["cl_active"] == "0" && row["cl_waiting"] == "0");
    return clients_ok && row["sv_active"] == std::to_string(expected_active) &&
           row["sv_login"] == "0";
  };
  if (!poll_until(clients_connected ? 1.0 : kLeakSeconds, clean)) {
    std::string text;
    for (const auto& k : {"cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_login"})
      text += std::string(" ") + k + "=" + row[k];
    problems.push_back(
        std::string(clients_connected ? "with every client idle" : "after every client left") +
        ", SHOW POOLS says" + text + (err.empty() ? "" : " (" + err + ")"));
  }
  console.terminate();
}

RunResult Harness::run(const Target& target, const Script& script, size_t vanish_after) {
  RunResult r;
  r.notifications.resize(static_cast<size_t>(script.clients));
  reset(target);
  std::vector<std::unique_ptr<RawPg>> clients;
  for (int i = 0; i < script.clients; ++i) {
    clients.push_back(std::make_unique<RawPg>(target.port, kUser, kDatabase));
    if (!clients.back()->ok()) {
      r.problems.push_back("client " + client_name(i) + " could not log in");
      return r;
    }
  }
  const bool complete = vanish_after == kComplete;
  const size_t n = std::min(vanish_after, script.steps.size());
  bool stopped = false;
  // Whether each client has seen ReadyForQuery 'I' for everything it sent.
  std::vector<bool> idle(static_cast<size_t>(script.clients), true);
  for (size_t i = 0; i < n && !stopped; ++i) {
    const Step& s = script.steps[i];
    RawPg& c = *clients[static_cast<size_t>(s.client)];
    std::vector<std::string> reads;
    if (s.cancel) {
      if (!wait_sleeping(kStepSeconds)) reads.push_back("!the query to cancel never ran");
      c.cancel();
    } else {
      c.send(s.send);
    }
    if (s.until) {
      const double limit = s.seconds > 0 ? s.seconds : kStepSeconds;
      auto msgs = c.read_until(s.until, s.count, limit);
      int got = 0;
      for (const auto& m : msgs) {
        if (m.type == s.until) ++got;
        if (m.type == 'A') {
          std::string_view body = m.body;
          size_t pos = 4;  // after the notifying backend's pid
          std::string_view channel, payload;
          wire::read_cstring(body, pos, channel);
          wire::read_cstring(body, pos, payload);
          r.notifications[static_cast<size_t>(s.client)].push_back(std::string(channel) + " " +
                                                                   std::string(payload));
          continue;
        }
        if (std::string t = normalise(m); !t.empty()) reads.push_back(t);
      }
      if (got < s.count) {
        reads.push_back(c.peer_closed() ? "!connection closed"
                                        : std::string("!no ") + s.until + " within " +
                                              std::to_string(static_cast<int>(limit)) + " s");
        stopped = true;
      }
      idle[static_cast<size_t>(s.client)] =
          !msgs.empty() && msgs.back().type == 'Z' && msgs.back().body == "I";
    } else if (!s.send.empty()) {
      idle[static_cast<size_t>(s.client)] = false;
    }
    r.steps.push_back(std::move(reads));
  }
  if (complete && !stopped) {
    // Notifications may trail the last step's answer.
    for (size_t ci = 0; ci < clients.size(); ++ci) {
      for (const auto& m : clients[ci]->read_for(script.clients > 1 ? 0.2 : 0.02)) {
        if (m.type == 'A') {
          size_t pos = 4;
          std::string_view channel, payload;
          wire::read_cstring(m.body, pos, channel);
          wire::read_cstring(m.body, pos, payload);
          r.notifications[ci].push_back(std::string(channel) + " " + std::string(payload));
        } else if (std::string t = normalise(m); !t.empty()) {
          r.problems.push_back("client " + client_name(static_cast<int>(ci)) +
                               " got after its last step: " + t);
        }
      }
    }
    bool all_idle = true;
    for (bool b : idle) all_idle = all_idle && b;
    // Transaction pooling: a client between transactions holds no link.
    // A client that made state which cannot move keeps its link (pinned).
    if (target.path == Path::transaction && all_idle)
      check_no_leak(target, true, static_cast<int>(script.pinned_links), r.problems);
    for (auto& c : clients) c->terminate();
  } else {
    for (auto& c : clients) c->vanish();
  }
  clients.clear();
  r.state = read_state(target, r.problems);
  check_no_leak(target, false, 0, r.problems);
  return r;
}

}  // namespace pgw::test::diff
