#include "pgwarden/audit/server.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <thread>

namespace pgw::audit {

namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultCloser>;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs one read-only query; on failure records a note and returns null.
Result query(PGconn* c, const char* what, const char* sql, std::vector<std::string>& notes) {
  Result r(PQexec(c, sql));
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    notes.push_back(
        fmt::format("{}: {}", what, trim(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(c))));
    return nullptr;
  }
  return r;
}

std::string str(PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}
long long num(PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  long long out = 0;
  std::from_chars(v, v + std::char_traits<char>::length(v), out);
  return out;
}
double real(PGresult* r, int row, int col) {
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

bool looks_like_auth(const std::string& m) {
  for (const char* s : {"authentication failed", "no password supplied", "pg_hba.conf",
                        "password is required", "does not exist"})
    if (m.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

ServerRead read_server(const std::string& dsn, std::chrono::milliseconds sample_for) {
  ServerRead out;
  // Defaults first so that the DSN given can override them; read-only on top.
  const char* keys[] = {"connect_timeout", "application_name", "options",
                        "dbname",          "client_encoding",  nullptr};
  const char* vals[] = {"10",        "pgwarden-audit", "-c default_transaction_read_only=on",
                        dsn.c_str(), "UTF8",           nullptr};
  Conn c(PQconnectdbParams(keys, vals, 1));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    out.message = trim(c ? PQerrorMessage(c.get()) : "out of memory");
    out.problem =
        looks_like_auth(out.message) ? ServerProblem::auth_failed : ServerProblem::unreachable;
    return out;
  }
  PGconn* pc = c.get();
  ServerSnapshot& s = out.snapshot;
  s.version_num = PQserverVersion(pc);
  s.ssl_in_use = PQsslInUse(pc) == 1;
  if (const char* h = PQhost(pc)) s.host = h;
  auto& notes = out.notes;

  if (auto r = query(pc, "pg_settings", "select name, setting, coalesce(unit, '') from pg_settings",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i)
      s.settings[str(r.get(), i, 0)] = Setting{str(r.get(), i, 1), str(r.get(), i, 2)};
  }
  if (auto r =
          query(pc, "privileges",
                "select coalesce((select rolsuper from pg_roles where rolname = current_user), "
                "false), pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER'), "
                "pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')",
                notes)) {
    bool super = str(r.get(), 0, 0) == "t";
    s.can_read_all_stats = super || str(r.get(), 0, 1) == "t";
    bool files = super || str(r.get(), 0, 2) == "t";
    if (files) {
      std::vector<std::string> ignore;
      if (auto m = query(pc, "meminfo", "select pg_read_file('/proc/meminfo', 0, 200)", ignore)) {
        std::string text = str(m.get(), 0, 0);
        auto at = text.find("MemTotal:");
        if (at != std::string::npos) {
          long long kb = std::strtoll(text.c_str() + at + 9, nullptr, 10);
          if (kb > 0) s.detected_ram = static_cast<uint64_t>(kb) * 1024;
        }
      }
    }
  }
  if (auto r = query(pc, "pg_stat_activity",
                     "select pid, coalesce(application_name, ''), coalesce(usename, ''), "
                     "coalesce(backend_type, ''), coalesce(state, ''), "
                     "coalesce(extract(epoch from now() - xact_start), -1)::float8, "
                     "coalesce(extract(epoch from now() - state_change), -1)::float8, "
                     "coalesce(extract(epoch from now() - query_start), -1)::float8 "
                     "from pg_stat_activity where pid <> pg_backend_pid()",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Backend b;
      b.pid = static_cast<int>(num(r.get(), i, 0));
      b.application_name = str(r.get(), i, 1);
      b.usename = str(r.get(), i, 2);
      b.backend_type = str(r.get(), i, 3);
      b.state = str(r.get(), i, 4);
      b.xact_age_s = real(r.get(), i, 5);
      b.state_age_s = real(r.get(), i, 6);
      b.query_age_s = real(r.get(), i, 7);
      s.backends.push_back(std::move(b));
    }
  }
  if (s.version_num >= 140000) {
    if (auto r = query(pc, "pg_stat_database",
                       "select datname, coalesce(sessions, 0), coalesce(sessions_abandoned, 0), "
                       "coalesce(sessions_fatal, 0), coalesce(sessions_killed, 0) "
                       "from pg_stat_database where datname is not null",
                       notes)) {
      for (int i = 0; i < PQntuples(r.get()); ++i)
        s.databases.push_back({str(r.get(), i, 0), num(r.get(), i, 1), num(r.get(), i, 2),
                               num(r.get(), i, 3), num(r.get(), i, 4)});
    }
  }
  if (auto r = query(pc, "pg_replication_slots",
                     s.version_num >= 130000
                         ? "select slot_name, slot_type, active, coalesce(wal_status, ''), "
                           "coalesce(case when pg_is_in_recovery() then null else "
                           "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) end, -1)::bigint "
                           "from pg_replication_slots order by 1"
                         : "select slot_name, slot_type, active, '', -1::bigint "
                           "from pg_replication_slots order by 1",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Slot sl;
      sl.name = str(r.get(), i, 0);
      sl.type = str(r.get(), i, 1);
      sl.active = str(r.get(), i, 2) == "t";
      sl.wal_status = str(r.get(), i, 3);
      sl.retained_bytes = num(r.get(), i, 4);
      s.slots.push_back(std::move(sl));
    }
  }
  if (auto r = query(pc, "pg_db_role_setting",
                     "select coalesce(r.rolname, ''), coalesce(d.datname, ''), "
                     "split_part(c, '=', 1), substr(c, strpos(c, '=') + 1) "
                     "from pg_db_role_setting s left join pg_roles r on r.oid = s.setrole "
                     "left join pg_database d on d.oid = s.setdatabase, unnest(s.setconfig) c",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i)
      s.role_settings.push_back(
          {str(r.get(), i, 0), str(r.get(), i, 1), str(r.get(), i, 2), str(r.get(), i, 3)});
  }
  if (auto r = query(pc, "pg_database",
                     "select datname, datconnlimit from pg_database where datconnlimit >= 0 "
                     "and datallowconn",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i)
      s.database_limits[str(r.get(), i, 0)] = static_cast<int>(num(r.get(), i, 1));
  }
  if (auto r = query(pc, "pg_roles",
                     "select rolname, rolconnlimit from pg_roles where rolconnlimit >= 0 and "
                     "rolcanlogin",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i)
      s.role_limits[str(r.get(), i, 0)] = static_cast<int>(num(r.get(), i, 1));
  }
  if (auto r = query(pc, "replication roles",
                     "select r.rolname, r.rolsuper or r.rolreplication or coalesce((select "
                     "pg_has_role(r.oid, m.oid, 'MEMBER') from pg_roles m where m.rolname = "
                     "'rds_replication'), false) from pg_roles r where r.rolcanlogin",
                     notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i)
      s.can_replicate[str(r.get(), i, 0)] = str(r.get(), i, 1) == "t";
  }
  if (auto r = query(pc, "pg_extension", "select extname from pg_extension order by 1", notes)) {
    for (int i = 0; i < PQntuples(r.get()); ++i) s.extensions.push_back(str(r.get(), i, 0));
  }
  if (sample_for.count() > 0) {
    int clients = 0;
    for (auto& b : s.backends) clients += b.backend_type == "client backend" ? 1 : 0;
    s.peak_client_backends = clients + 1;
    auto deadline = std::chrono::steady_clock::now() + sample_for;
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::seconds(1), deadline - std::chrono::steady_clock::now()));
      std::vector<std::string> ignore;
      if (auto r = query(pc, "sample",
                         "select count(*) from pg_stat_activity where backend_type = 'client "
                         "backend'",
                         ignore))
        s.peak_client_backends =
            std::max(s.peak_client_backends, static_cast<int>(num(r.get(), 0, 0)));
    }
  }
  return out;
}

}  // namespace pgw::audit
