// Audit rules on the server's own settings (check_server).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "rule_helpers.hpp"

namespace pgw::audit {

using namespace rule_helpers;

// ---- server --------------------------------------------------------------------------

std::vector<Finding> check_server(const ServerSnapshot& s, const Inputs& in) {
  std::vector<Finding> out;
  const auto& o = in.options;
  auto add = [&](Finding f) { out.push_back(std::move(f)); };

  if (!s.can_read_all_stats)
    add(make("audit.limited-privileges", Severity::warning, "pg_read_all_stats", "not granted",
             "the audit role is neither superuser nor a member of pg_read_all_stats: other roles' "
             "sessions show no state or timings, so sess.* rules only see the audit role's own",
             "GRANT pg_read_all_stats TO <audit role>;"));

  // Reserved slots.
  if (s.integer("superuser_reserved_connections").value_or(3) == 0)
    add(make("conn.reserved", Severity::warning, "superuser_reserved_connections", "0",
             "no slot is kept for a superuser: when pools fill max_connections nobody can log in "
             "to diagnose or terminate sessions",
             "superuser_reserved_connections = 3"));

  // Usage now / peak.
  {
    int clients = 1;  // the audit's own session
    std::map<std::string, std::map<std::string, int>> by_app;
    for (auto& b : s.backends) {
      if (b.backend_type != "client backend") continue;
      ++clients;
      by_app[b.application_name.empty() ? "(none)" : b.application_name]
            [b.state.empty() ? "(hidden)" : b.state]++;
    }
    int peak = std::max(clients, s.peak_client_backends);
    int avail = available_slots(s);
    std::vector<std::string> apps;
    for (auto& [app, states] : by_app) {
      std::vector<std::string> st;
      for (auto& [state, n] : states) st.push_back(fmt::format("{} {}", n, state));
      apps.push_back(fmt::format("{}: {}", app, fmt::join(st, ", ")));
    }
    double p = pct(peak, avail);
    std::string ev = fmt::format(
        "{} client connections now (the audit's included), peak {}{} = {:.0f} % of {} usable "
        "slots; by application and state: {}",
        clients, peak, s.peak_client_backends >= 0 ? " over --sample" : " (one sample)", p, avail,
        fmt::join(apps, "; "));
    if (avail > 0 && p >= 80)
      add(make("conn.usage", p >= 95 ? Severity::error : Severity::warning, "max_connections",
               std::to_string(s.integer("max_connections").value_or(0)), ev,
               "put the apps behind a pooler (pgwarden proxy) or raise max_connections; find the "
               "app holding idle connections above"));
    else
      add(make("conn.usage", Severity::info, "max_connections",
               std::to_string(s.integer("max_connections").value_or(0)), ev,
               "no change needed; --sample 60s during peak traffic gives a better peak"));
  }

  // Sessions.
  {
    int n = 0;
    double oldest = 0;
    std::set<std::string> apps;
    for (auto& b : s.backends) {
      if (!b.state.starts_with("idle in transaction")) continue;
      if (b.state_age_s < o.idle_in_transaction_s) continue;
      ++n;
      oldest = std::max(oldest, b.state_age_s);
      apps.insert(b.application_name.empty() ? "(none)" : b.application_name);
    }
    if (n > 0)
      add(make("sess.idle-in-transaction", Severity::warning, "pg_stat_activity.state",
               "idle in transaction",
               fmt::format("{} session(s) idle in transaction for >= {:.0f}s (oldest {:.0f}s), "
                           "applications: {}",
                           n, o.idle_in_transaction_s, oldest, fmt::join(apps, ", ")),
               "fix the code path that leaves the transaction open; set "
               "idle_in_transaction_session_timeout = '60s' as a safety net"));
  }
  {
    int n = 0;
    double oldest = 0;
    std::set<std::string> apps;
    for (auto& b : s.backends) {
      if (b.backend_type != "client backend" || b.state != "active") continue;
      if (b.query_age_s < o.long_query_s) continue;
      ++n;
      oldest = std::max(oldest, b.query_age_s);
      apps.insert(b.application_name.empty() ? "(none)" : b.application_name);
    }
    if (n > 0)
      add(make("sess.long-running", Severity::warning, "pg_stat_activity.query_start",
               fmt::format("{:.0f}s", oldest),
               fmt::format("{} statement(s) running for >= {:.0f}s (oldest {:.0f}s), applications: "
                           "{}",
                           n, o.long_query_s, oldest, fmt::join(apps, ", ")),
               "ALTER ROLE <app role> SET statement_timeout = '30s'; investigate the statement"));
  }

  // pg_stat_database session counters.
  {
    long long sessions = 0, abandoned = 0, fatal = 0, killed = 0;
    for (auto& d : s.databases) {
      sessions += d.sessions;
      abandoned += d.abandoned;
      fatal += d.fatal;
      killed += d.killed;
    }
    std::string base = fmt::format(
        "since the last stats reset: sessions {}, abandoned {}, fatal "
        "{}, killed {}",
        sessions, abandoned, fatal, killed);
    if (abandoned > 0) {
      bool many = sessions >= 20 && abandoned * 20 >= sessions;
      add(make(
          "stats.sessions-abandoned", many ? Severity::warning : Severity::info,
          "pg_stat_database.sessions_abandoned", std::to_string(abandoned),
          fmt::format("{} ({:.1f} % abandoned: the client's socket closed without a Terminate "
                      "message — a crash, a killed process or a middlebox cut)",
                      base, pct(static_cast<double>(abandoned), static_cast<double>(sessions))),
          "correlate with `pgwarden logs`; enable keepalives below the idle cut; make the "
          "apps call pool.end() on shutdown"));
    }
    if (fatal > 0)
      add(make("stats.sessions-fatal", Severity::info, "pg_stat_database.sessions_fatal",
               std::to_string(fatal), base,
               "look for FATAL lines in the server log (log_line_prefix with %e shows the "
               "SQLSTATE)"));
    if (killed > 0)
      add(make("stats.sessions-killed", Severity::info, "pg_stat_database.sessions_killed",
               std::to_string(killed), base,
               "sessions were ended by pg_terminate_backend or a timeout; check who and why"));
  }

  // Memory.
  {
    auto ram = ram_of(in);
    long long sb = s.bytes("shared_buffers").value_or(0);
    long long wm = s.bytes("work_mem").value_or(0);
    long long mwm = s.bytes("maintenance_work_mem").value_or(0);
    long long awm = s.bytes("autovacuum_work_mem").value_or(-1);
    long long ecs = s.bytes("effective_cache_size").value_or(0);
    long long maxc = s.integer("max_connections").value_or(100);
    long long avw = s.integer("autovacuum_max_workers").value_or(3);
    if (ecs > 0 && ecs < sb)
      add(make("mem.effective-cache-size", Severity::warning, "effective_cache_size",
               format_bytes(ecs),
               fmt::format("effective_cache_size {} < shared_buffers {}: the planner assumes "
                           "less cache than PostgreSQL itself holds",
                           format_bytes(ecs), format_bytes(sb)),
               ram ? fmt::format(
                         "effective_cache_size = '{}' (RAM x 3/4)",
                         format_bytes(static_cast<long long>(*ram) * 3 / 4 / (1 << 20) * (1 << 20)))
                   : std::string("effective_cache_size = 3/4 of the server's RAM")));
    if (!ram) {
      add(make("mem.ram-unknown", Severity::info, "--ram", "",
               "RAM was neither given (--ram) nor readable through the server "
               "(pg_read_file('/proc/meminfo') needs superuser or pg_read_server_files): "
               "mem.work-mem, mem.shared-buffers, mem.maintenance-work-mem skipped",
               "pass --ram SIZE, e.g. --ram 16GB"));
    } else {
      long long r = static_cast<long long>(*ram);
      long long av_each = awm > 0 ? awm : mwm;
      long long worst = sb + maxc * wm + avw * av_each;
      if (worst > r) {
        long long workers = s.integer("max_worker_processes").value_or(8);
        long long suggested =
            std::max<long long>(4LL << 20, (r - sb) / ((maxc + workers) * 3) / 1024 * 1024);
        add(make("mem.work-mem", Severity::warning, "work_mem", format_bytes(wm),
                 fmt::format("shared_buffers {} + max_connections {} x work_mem {} + "
                             "autovacuum_max_workers {} x {} {} = {} > RAM {}",
                             format_bytes(sb), maxc, format_bytes(wm), avw,
                             awm > 0 ? "autovacuum_work_mem" : "maintenance_work_mem",
                             format_bytes(av_each), format_bytes(worst), format_bytes(r)),
                 fmt::format("work_mem = '{}kB' ((RAM - shared_buffers) / ((max_connections + "
                             "max_worker_processes) x 3), PGTune), or lower max_connections "
                             "behind a pooler",
                             suggested / 1024)));
      }
      if (sb * 100 > r * 40)
        add(make("mem.shared-buffers", Severity::warning, "shared_buffers", format_bytes(sb),
                 fmt::format("shared_buffers {} = {:.0f} % of RAM {} (> 40 %)", format_bytes(sb),
                             pct(static_cast<double>(sb), static_cast<double>(r)), format_bytes(r)),
                 fmt::format("shared_buffers = '{}MB' (RAM / 4)", r / 4 / (1 << 20))));
      else if (sb * 100 < r * 15)
        add(make(
            "mem.shared-buffers", Severity::info, "shared_buffers", format_bytes(sb),
            fmt::format("shared_buffers {} = {:.1f} % of RAM {} (PGTune: 25 %)", format_bytes(sb),
                        pct(static_cast<double>(sb), static_cast<double>(r)), format_bytes(r)),
            fmt::format("shared_buffers = '{}MB' (RAM / 4; needs a restart)", r / 4 / (1 << 20))));
      if (mwm * 8 > r)
        add(make("mem.maintenance-work-mem", Severity::warning, "maintenance_work_mem",
                 format_bytes(mwm),
                 fmt::format("maintenance_work_mem {} > RAM/8 ({}); each of autovacuum_max_workers "
                             "{} can use it",
                             format_bytes(mwm), format_bytes(r / 8), avw),
                 fmt::format("maintenance_work_mem = '{}MB' (RAM / 16, at most 8GB)",
                             std::min<long long>(r / 16, 8LL << 30) / (1 << 20))));
      if (ecs > r)
        add(make(
            "mem.effective-cache-size", Severity::warning, "effective_cache_size",
            format_bytes(ecs),
            fmt::format("effective_cache_size {} > RAM {}", format_bytes(ecs), format_bytes(r)),
            fmt::format("effective_cache_size = '{}MB' (RAM x 3/4)", r * 3 / 4 / (1 << 20))));
    }
  }

  // Timeouts.
  if (s.millis("statement_timeout").value_or(0) == 0 &&
      s.overridden_by("statement_timeout").empty())
    add(make("timeout.statement", Severity::info, "statement_timeout", "0",
             "no server-wide bound on a statement; a runaway query holds its connection and locks",
             "ALTER ROLE <app role> SET statement_timeout = '30s'; (per app role, not globally: "
             "Zero's initial sync and migrations need long statements)"));
  if (s.millis("idle_in_transaction_session_timeout").value_or(0) == 0) {
    std::string roles = s.overridden_by("idle_in_transaction_session_timeout");
    add(make("timeout.idle-in-transaction", roles.empty() ? Severity::warning : Severity::info,
             "idle_in_transaction_session_timeout", "0",
             roles.empty() ? std::string("a client that leaks a transaction (crashed handler, "
                                         "forgotten release) holds its connection, locks and "
                                         "xmin forever")
                           : fmt::format("0 server-wide; set per role/database only ({}): other "
                                         "roles' leaked transactions are unbounded",
                                         roles),
             "idle_in_transaction_session_timeout = '60s'"));
  }
  if (long long ist = s.millis("idle_session_timeout").value_or(0);
      ist > 0 && in.apps.empty() && !in.proxy)
    add(make("timeout.idle-session", Severity::info, "idle_session_timeout", secs(ist),
             fmt::format("the server closes sessions idle for {}; every pool in front of it must "
                         "close idle connections sooner (pass --app / --proxy-config to check)",
                         secs(ist)),
             "idle_session_timeout = 0, or make every pool's idle timeout shorter"));
  {
    long long idle = keepalive_idle_s(s);
    long long intvl = s.integer("tcp_keepalives_interval").value_or(0);
    long long cnt = s.integer("tcp_keepalives_count").value_or(0);
    if (intvl <= 0) intvl = 75;
    if (cnt <= 0) cnt = 9;
    if (idle >= o.idle_cut_s)
      add(make("timeout.keepalives", Severity::warning, "tcp_keepalives_idle",
               std::to_string(s.integer("tcp_keepalives_idle").value_or(0)),
               fmt::format("first keepalive after {}s (0 = OS default, Linux 7200 s), then every "
                           "{}s x {}: a dead or middlebox-cut client is noticed after {}s; the {} "
                           "idle cut is {}s",
                           idle, intvl, cnt, idle + intvl * cnt, o.idle_cut_name, o.idle_cut_s),
               "tcp_keepalives_idle = 60, tcp_keepalives_interval = 10, tcp_keepalives_count = 6"));
    if (s.get("tcp_user_timeout") && s.integer("tcp_user_timeout").value_or(0) == 0)
      add(make("timeout.tcp-user", Severity::info, "tcp_user_timeout", "0",
               "unacknowledged data may stay in flight for the kernel default (about 15 min of "
               "retransmissions) before a dead client's socket is closed",
               fmt::format("tcp_user_timeout = {} (ms; keepalive idle + interval x count)",
                           std::min<long long>(idle, 60) * 1000 + 10 * 6 * 1000)));
  }
  if (s.get("client_connection_check_interval") &&
      s.millis("client_connection_check_interval").value_or(0) == 0)
    add(make("timeout.client-connection-check", Severity::info, "client_connection_check_interval",
             "0", "a long query keeps running after its client has gone",
             "client_connection_check_interval = '10s'"));
  if (long long at = s.millis("authentication_timeout").value_or(60'000); at > 60'000)
    add(make("timeout.authentication", Severity::warning, "authentication_timeout", secs(at),
             fmt::format("a stalled authentication holds a connection slot for {} (default 1min)",
                         secs(at)),
             "authentication_timeout = '30s'"));

  // Logging.
  if (s.text("log_connections").value_or("off") != "on")
    add(make("log.connections", Severity::warning, "log_connections",
             s.text("log_connections").value_or("?"),
             "connection attempts are not logged: storms and failed logins are invisible",
             "log_connections = on"));
  if (s.text("log_disconnections").value_or("off") != "on")
    add(make("log.disconnections", Severity::warning, "log_disconnections",
             s.text("log_disconnections").value_or("?"),
             "session ends and durations are not logged: drops cannot be timed",
             "log_disconnections = on"));
  {
    std::string prefix = s.text("log_line_prefix").value_or("");
    std::vector<std::string> missing;
    for (const char* esc : {"%a", "%e", "%p"})
      if (prefix.find(esc) == std::string::npos) missing.push_back(esc);
    if (!missing.empty())
      add(make("log.line-prefix", Severity::warning, "log_line_prefix", prefix,
               fmt::format("missing {} (%a application_name, %e SQLSTATE, %p backend PID): log "
                           "lines cannot be tied to an app, an error code or a session",
                           fmt::join(missing, ", ")),
               "log_line_prefix = '%m [%p] %e %q%u@%d/%a %r '"));
  }

  // Replication slots (any user, not only Zero).
  for (auto& sl : s.slots) {
    if (sl.wal_status == "lost") {
      add(make("slot.invalidated", Severity::error, "pg_replication_slots." + sl.name, "lost",
               fmt::format("{} slot '{}' is invalidated (wal_status = lost): its consumer must "
                           "resync from scratch",
                           sl.type, sl.name),
               fmt::format("SELECT pg_drop_replication_slot('{}'); and let the consumer recreate "
                           "it (Zero resyncs on its own)",
                           sl.name)));
    } else if (!sl.active) {
      add(make(
          "slot.inactive", Severity::warning, "pg_replication_slots." + sl.name, "active = false",
          fmt::format("{} slot '{}' has no consumer (wal_status {}, retains {} of WAL); WAL "
                      "and vacuum are held back",
                      sl.type, sl.name, sl.wal_status.empty() ? "?" : sl.wal_status,
                      sl.retained_bytes >= 0 ? format_bytes(sl.retained_bytes) : "?"),
          fmt::format("restart its consumer, or SELECT pg_drop_replication_slot('{}');", sl.name)));
    }
  }

  // What Zero needs.
  if (uses_zero(in)) {
    bool aurora = o.target == Target::aurora;
    if (aurora && s.get("rds.logical_replication")) {
      const std::string v = s.text("rds.logical_replication").value_or("");
      if (v != "on" && v != "1")
        add(make("aurora.logical-replication", Severity::error, "rds.logical_replication", v,
                 "Zero streams changes through logical replication",
                 "rds.logical_replication = 1 in the DB cluster parameter group (static: reboot "
                 "the writer)"));
    } else if (s.text("wal_level").value_or("") != "logical") {
      add(make(aurora ? "aurora.logical-replication" : "zero.wal-level", Severity::error,
               "wal_level", s.text("wal_level").value_or("?"),
               "Zero's zero-cache streams changes through a logical replication slot (pgoutput)",
               aurora ? "rds.logical_replication = 1 in the DB cluster parameter group (static: "
                        "reboot the writer); it sets wal_level = logical"
                      : "wal_level = logical (needs a restart)"));
    }
    long long senders = s.integer("max_wal_senders").value_or(0);
    int in_use = 0;
    for (auto& b : s.backends)
      if (b.backend_type == "walsender") ++in_use;
    if (senders - in_use < 2)
      add(make("zero.wal-senders", senders == 0 ? Severity::error : Severity::warning,
               "max_wal_senders", std::to_string(senders),
               fmt::format("max_wal_senders {} with {} in use leaves {} free; Zero needs one for "
                           "its stream and one spare while a dead stream is being replaced",
                           senders, in_use, senders - in_use),
               fmt::format("max_wal_senders = {} (needs a restart)", in_use + 4)));
    long long slots = s.integer("max_replication_slots").value_or(0);
    long long used = static_cast<long long>(s.slots.size());
    if (slots - used < 2)
      add(make("zero.replication-slots", slots == 0 ? Severity::error : Severity::warning,
               "max_replication_slots", std::to_string(slots),
               fmt::format("max_replication_slots {} with {} slot(s) existing leaves {} free; Zero "
                           "needs one slot and a second while a resync replaces it",
                           slots, used, slots - used),
               fmt::format("max_replication_slots = {} (needs a restart)", used + 4)));
    if (s.get("wal_sender_timeout") && s.millis("wal_sender_timeout").value_or(60'000) == 0)
      add(make("zero.wal-sender-timeout", Severity::warning, "wal_sender_timeout", "0",
               "the server never notices a dead zero-cache on the replication stream; zero-cache "
               "1.8.0 went into a reconnect storm with 0 (rocicorp/mono PR #6244)",
               "wal_sender_timeout = '60s'"));
    if (auto* ks = s.get("max_slot_wal_keep_size")) {
      long long v = s.integer("max_slot_wal_keep_size").value_or(-1);
      if (v >= 0)
        add(make("zero.max-slot-wal-keep-size", Severity::warning, "max_slot_wal_keep_size",
                 fmt::format("{}{}", ks->value, ks->unit),
                 "a finite limit invalidates Zero's slot when zero-cache lags or is down long "
                 "enough; zero-cache then resets and resyncs every replica (Zero docs advise "
                 "against it in production)",
                 "max_slot_wal_keep_size = -1, and alert on slot lag / disk instead"));
      else
        add(make("zero.max-slot-wal-keep-size", Severity::info, "max_slot_wal_keep_size", "-1",
                 "unlimited: an abandoned Zero slot retains WAL until the disk fills",
                 "keep -1 but alert on pg_replication_slots lag (slot.inactive) and disk usage"));
    }
  }
  return out;
}

}  // namespace pgw::audit
