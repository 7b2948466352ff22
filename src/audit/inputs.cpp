#include "pgwarden/audit/inputs.hpp"
#include "pgwarden/core/url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pgwarden/core/config.hpp"

namespace pgw::audit {

namespace {

[[noreturn]] void fail(const std::string& file, int line, int col, const std::string& what) {
  throw InputError(fmt::format("{}:{}:{}: {}", file, line, col, what));
}

bool is_key_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::optional<long long> to_int(std::string_view s) {
  long long v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> to_bool(std::string_view s) {
  std::string l(s);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "true" || l == "1" || l == "on" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "off" || l == "no") return false;
  return std::nullopt;
}

}  // namespace

EnvFile parse_env(std::string_view text, const std::string& file) {
  EnvFile env;
  env.file = file;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t i = 0;
    auto col = [&](size_t at) { return static_cast<int>(at) + 1; };
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) {
      if (eol == text.size()) break;
      continue;
    }
    if (line[i] == '#') {
      size_t j = i + 1;
      while (j < line.size() && line[j] == ' ') ++j;
      if (line.substr(j).starts_with("pgwarden:")) {
        j += 9;
        while (j < line.size()) {
          while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
          if (j >= line.size()) break;
          size_t start = j;
          while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
          std::string_view tok = line.substr(start, j - start);
          auto eq = tok.find('=');
          if (eq == std::string_view::npos || eq == 0)
            fail(file, line_no, col(start),
                 fmt::format("pgwarden directive '{}' must be key=value", tok));
          env.directives.push_back({std::string(tok.substr(0, eq)), std::string(tok.substr(eq + 1)),
                                    line_no, col(start + eq + 1)});
        }
      }
      if (eol == text.size()) break;
      continue;
    }
    if (line.substr(i).starts_with("export ")) {
      i += 7;
      while (i < line.size() && line[i] == ' ') ++i;
    }
    if (i >= line.size() || !is_key_start(line[i]))
      fail(file, line_no, col(i), "expected KEY=VALUE (a key starts with a letter or '_')");
    size_t kstart = i;
    while (i < line.size() && is_key_char(line[i])) ++i;
    std::string key(line.substr(kstart, i - kstart));
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size() || line[i] != '=')
      fail(file, line_no, col(i), fmt::format("expected '=' after '{}'", key));
    ++i;
    while (i < line.size() && line[i] == ' ') ++i;
    EnvEntry e{key, "", line_no, col(i)};
    if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
      char q = line[i];
      size_t j = i + 1;
      bool closed = false;
      for (; j < line.size(); ++j) {
        char c = line[j];
        if (q == '"' && c == '\\' && j + 1 < line.size()) {
          char n = line[++j];
          e.value.push_back(n == 'n' ? '\n' : n);
          continue;
        }
        if (c == q) {
          closed = true;
          break;
        }
        e.value.push_back(c);
      }
      if (!closed)
        fail(file, line_no, col(i),
             fmt::format("unterminated {} quote in the value of {}", q == '"' ? "double" : "single",
                         key));
      size_t k = j + 1;
      while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
      if (k < line.size() && line[k] != '#')
        fail(file, line_no, col(k),
             fmt::format("unexpected text after the closing quote of {}", key));
      e.value_column = col(i + 1);
    } else {
      std::string_view v = line.substr(i);
      auto hash = v.find(" #");
      if (hash != std::string_view::npos) v = v.substr(0, hash);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      e.value = std::string(v);
    }
    env.entries.push_back(std::move(e));
    if (eol == text.size()) break;
  }
  return env;
}

EnvFile load_env_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open env file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_env(ss.str(), path);
}

ConnUrl parse_conn_url(std::string_view url, const std::string& file, int line, int col) {
  ConnUrl u;
  u.line = line;
  size_t i = 0;
  if (url.starts_with("postgres://"))
    i = 11;
  else if (url.starts_with("postgresql://"))
    i = 13;
  else
    fail(file, line, col, "not a postgres:// or postgresql:// URL");
  size_t end = url.find_first_of("/?", i);
  if (end == std::string_view::npos) end = url.size();
  std::string_view authority = url.substr(i, end - i);
  size_t at = authority.rfind('@');
  size_t hosts_off = i;
  std::string redacted(url.substr(0, i));
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    auto colon = userinfo.find(':');
    u.user = percent_decode(userinfo.substr(0, colon));
    redacted += std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) redacted += ":***";
    redacted += "@";
    hosts_off = i + at + 1;
    authority = authority.substr(at + 1);
  }
  redacted += std::string(url.substr(hosts_off));
  u.raw_redacted = redacted;
  // First host of a possible list "h1:p1,h2:p2".
  std::string_view first = authority.substr(0, authority.find(','));
  size_t port_at = std::string_view::npos;
  if (!first.empty() && first.front() == '[') {
    auto close = first.find(']');
    if (close == std::string_view::npos)
      fail(file, line, col + static_cast<int>(hosts_off), "unterminated '[' in the host");
    u.host = std::string(first.substr(1, close - 1));
    if (close + 1 < first.size()) {
      if (first[close + 1] != ':')
        fail(file, line, col + static_cast<int>(hosts_off + close + 1),
             "expected ':' after ']' in the host");
      port_at = close + 2;
    }
  } else {
    auto colon = first.find(':');
    u.host = percent_decode(first.substr(0, colon));
    if (colon != std::string_view::npos) port_at = colon + 1;
  }
  if (port_at != std::string_view::npos) {
    std::string_view ptext = first.substr(port_at);
    auto p = to_int(ptext);
    if (!p || *p < 1 || *p > 65535)
      fail(file, line, col + static_cast<int>(hosts_off + port_at),
           fmt::format("port '{}' is not a number between 1 and 65535", ptext));
    u.port = static_cast<int>(*p);
  }
  size_t q = url.find('?', end);
  if (end < url.size() && url[end] == '/') {
    size_t dend = q == std::string_view::npos ? url.size() : q;
    u.dbname = percent_decode(url.substr(end + 1, dend - end - 1));
  }
  if (q != std::string_view::npos) {
    size_t k = q + 1;
    while (k < url.size()) {
      size_t amp = url.find('&', k);
      if (amp == std::string_view::npos) amp = url.size();
      std::string_view kv = url.substr(k, amp - k);
      if (!kv.empty()) {
        auto eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0)
          fail(file, line, col + static_cast<int>(k),
               fmt::format("query parameter '{}' must be key=value", kv));
        std::string key = percent_decode(kv.substr(0, eq));
        std::string val = percent_decode(kv.substr(eq + 1));
        if (key == "sslmode" || key == "ssl")
          u.sslmode = val;
        else if (key == "host" && u.host.empty())
          u.host = val;
        else if (key == "user")
          u.user = val;
        else if (key == "port") {
          auto p = to_int(val);
          if (!p || *p < 1 || *p > 65535)
            fail(file, line, col + static_cast<int>(k + eq + 1),
                 fmt::format("port '{}' is not a number between 1 and 65535", val));
          u.port = static_cast<int>(*p);
        } else
          u.params[key] = val;
      }
      k = amp + 1;
    }
  }
  // A password can also sit in the query string.
  for (const char* key : {"?password=", "&password="}) {
    size_t at_pw = u.raw_redacted.find(key);
    if (at_pw == std::string::npos) continue;
    size_t vstart = at_pw + std::char_traits<char>::length(key);
    size_t vend = u.raw_redacted.find('&', vstart);
    u.raw_redacted.replace(vstart, vend == std::string::npos ? std::string::npos : vend - vstart,
                           "***");
  }
  return u;
}

AppSpec parse_app_spec(std::string_view spec) {
  AppSpec s;
  bool is_url = spec.starts_with("postgres://") || spec.starts_with("postgresql://");
  // A URL may contain commas (host lists): options start at the first ",key=" we know.
  size_t comma = std::string_view::npos;
  if (is_url) {
    for (const char* k : {",instances=", ",driver=", ",max=", ",name="})
      comma = std::min(comma, spec.find(k));
  } else {
    comma = spec.find(',');
  }
  std::string head(spec.substr(0, comma));
  // Never echo a URL (it may hold a password).
  std::string label = is_url ? std::string("--app URL") : fmt::format("--app '{}'", spec);
  if (head.empty()) throw InputError(label + ": missing the env file or URL");
  if (is_url) {
    s.url = head;
    s.file = "--app";
  } else {
    s.file = head;
  }
  while (comma != std::string_view::npos) {
    size_t next = spec.find(',', comma + 1);
    std::string_view opt = spec.substr(
        comma + 1, next == std::string_view::npos ? std::string_view::npos : next - comma - 1);
    auto eq = opt.find('=');
    std::string_view k = opt.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? "" : opt.substr(eq + 1);
    if (k == "instances" || k == "max") {
      auto n = to_int(v);
      if (!n || *n < 1 || *n > 100000)
        throw InputError(fmt::format("{}: {} must be a whole number >= 1, got '{}'", label, k, v));
      (k == "max" ? s.max : s.instances) = static_cast<int>(*n);
    } else if (k == "driver") {
      if (v == "pg" || v == "node-postgres")
        s.driver = Driver::node_postgres;
      else if (v == "postgres" || v == "postgres.js" || v == "postgresjs")
        s.driver = Driver::postgres_js;
      else if (v == "zero")
        s.driver = Driver::zero;
      else
        throw InputError(
            fmt::format("{}: driver must be pg, postgres or zero, got '{}'", label, v));
    } else if (k == "name" && !v.empty()) {
      s.name = std::string(v);
    } else {
      throw InputError(
          fmt::format("{}: unknown option '{}' (expected instances=N, max=N, name=LABEL or "
                      "driver=pg|postgres|zero)",
                      label, k));
    }
    comma = next;
  }
  return s;
}

namespace {

struct Reader {
  const std::string& file;
  long long integer(const EnvEntry& e, long long lo, long long hi) const {
    auto v = to_int(e.value);
    if (!v)
      fail(file, e.line, e.value_column,
           fmt::format("{} = \"{}\" is not a whole number", e.key, e.value));
    if (*v < lo || *v > hi)
      fail(file, e.line, e.value_column,
           fmt::format("{} = {} is out of range [{}, {}]", e.key, *v, lo, hi));
    return *v;
  }
  bool boolean(const EnvEntry& e) const {
    auto b = to_bool(e.value);
    if (!b)
      fail(file, e.line, e.value_column,
           fmt::format("{} = \"{}\" must be true or false", e.key, e.value));
    return *b;
  }
};

bool is_url_var(const std::string& k) {
  return k == "DATABASE_URL" || k == "ZERO_UPSTREAM_DB" || k == "ZERO_CVR_DB" ||
         k == "ZERO_CHANGE_DB";
}

}  // namespace

AppConfig build_app(const EnvFile& env, const AppSpec& spec) {
  AppConfig app;
  app.file = env.file;
  app.name = std::filesystem::path(env.file).filename().string();
  Reader rd{env.file};
  const long long kMaxMs = 1LL << 40;

  // The driver: --app driver=, then a directive, then what the variables say.
  for (auto& d : env.directives) {
    if (d.key == "driver") {
      if (d.value == "pg" || d.value == "node-postgres")
        app.driver = Driver::node_postgres;
      else if (d.value == "postgres" || d.value == "postgres.js")
        app.driver = Driver::postgres_js;
      else if (d.value == "zero")
        app.driver = Driver::zero;
      else
        fail(env.file, d.line, d.value_column,
             fmt::format("driver = \"{}\" must be pg, postgres or zero", d.value));
      app.driver_declared = true;
    }
  }
  if (spec.driver) {
    app.driver = *spec.driver;
    app.driver_declared = true;
  }
  bool has_zero = false, has_pgjs_env = false;
  for (auto& e : env.entries) {
    if (e.key.starts_with("ZERO_")) has_zero = true;
    if (e.key == "PGMAX" || e.key == "PGIDLE_TIMEOUT" || e.key == "PGCONNECT_TIMEOUT" ||
        e.key == "PGMAX_LIFETIME" || e.key == "PGKEEP_ALIVE" || e.key == "PGPREPARE")
      has_pgjs_env = true;
  }
  if (!app.driver_declared) {
    if (has_zero)
      app.driver = Driver::zero;
    else if (has_pgjs_env)
      app.driver = Driver::postgres_js;
  }

  // Connection strings and Zero's variables.
  for (auto& e : env.entries) {
    bool looks_pg = e.value.starts_with("postgres://") || e.value.starts_with("postgresql://");
    if (is_url_var(e.key) || looks_pg) {
      if (e.value.empty()) continue;
      ConnUrl u = parse_conn_url(e.value, env.file, e.line, e.value_column);
      u.var = e.key;
      if (e.key == "ZERO_UPSTREAM_DB")
        app.zero.upstream = u;
      else if (e.key == "ZERO_CVR_DB")
        app.zero.cvr = u;
      else if (e.key == "ZERO_CHANGE_DB")
        app.zero.change = u;
      app.urls.push_back(std::move(u));
    } else if (e.key == "ZERO_UPSTREAM_MAX_CONNS") {
      app.zero.upstream_max = static_cast<int>(rd.integer(e, 1, 100000));
      app.zero.lines[e.key] = e.line;
    } else if (e.key == "ZERO_CVR_MAX_CONNS") {
      app.zero.cvr_max = static_cast<int>(rd.integer(e, 1, 100000));
      app.zero.lines[e.key] = e.line;
    } else if (e.key == "ZERO_CHANGE_MAX_CONNS") {
      app.zero.change_max = static_cast<int>(rd.integer(e, 1, 100000));
      app.zero.lines[e.key] = e.line;
    } else if (e.key == "ZERO_NUM_SYNC_WORKERS") {
      app.zero.num_sync_workers = static_cast<int>(rd.integer(e, 1, 100000));
    } else if (app.driver == Driver::postgres_js) {
      // postgres.js reads env['PG' + OPTION] (src/index.js parseOptions).
      auto& p = app.pool;
      if (e.key == "PGMAX") {
        p.max = static_cast<int>(rd.integer(e, 1, 100000));
        p.lines["max"] = e.line;
      } else if (e.key == "PGIDLE_TIMEOUT") {
        p.idle_timeout_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        p.lines["idle_timeout"] = e.line;
      } else if (e.key == "PGCONNECT_TIMEOUT") {
        p.connection_timeout_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        p.lines["connect_timeout"] = e.line;
      } else if (e.key == "PGMAX_LIFETIME") {
        p.max_lifetime_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        p.lines["max_lifetime"] = e.line;
      } else if (e.key == "PGKEEP_ALIVE") {
        long long s = rd.integer(e, 0, 86400);
        p.keep_alive = s > 0;
        p.keep_alive_delay_ms = s * 1000;
        p.lines["keep_alive"] = e.line;
      } else if (e.key == "PGPREPARE") {
        // Any non-empty string is truthy in postgres.js: "false" leaves prepare on.
        p.prepare = true;
        p.lines["prepare"] = e.line;
        if (auto b = to_bool(e.value); b && !*b)
          app.ignored.push_back({e.key, e.value,
                                 "postgres.js reads env['PGPREPARE'] as a string; any non-empty "
                                 "string is truthy, so prepare stays on",
                                 e.line});
      }
    }
  }

  // Directives: the options the application passes in code, which win over the URL and env.
  for (auto& d : env.directives) {
    auto& p = app.pool;
    EnvEntry e = d;
    auto mark = [&](const char* opt) { p.lines[opt] = d.line; };
    if (d.key == "driver") continue;
    if (d.key == "instances") {
      app.instances = static_cast<int>(rd.integer(e, 1, 100000));
    } else if (d.key == "name") {
      app.name = d.value;
    } else if (d.key == "max") {
      if (app.driver == Driver::zero)
        fail(env.file, d.line, d.value_column - 4,
             "max does not apply to Zero; set ZERO_UPSTREAM_MAX_CONNS, ZERO_CVR_MAX_CONNS and "
             "ZERO_CHANGE_MAX_CONNS");
      p.max = static_cast<int>(rd.integer(e, 1, 100000));
      mark("max");
    } else if (app.driver == Driver::node_postgres) {
      if (d.key == "idleTimeoutMillis") {
        p.idle_timeout_ms = rd.integer(e, 0, kMaxMs);
        mark("idleTimeoutMillis");
      } else if (d.key == "connectionTimeoutMillis") {
        p.connection_timeout_ms = rd.integer(e, 0, kMaxMs);
        mark("connectionTimeoutMillis");
      } else if (d.key == "maxLifetimeSeconds") {
        p.max_lifetime_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        mark("maxLifetimeSeconds");
      } else if (d.key == "keepAlive") {
        p.keep_alive = rd.boolean(e);
        mark("keepAlive");
      } else if (d.key == "keepAliveInitialDelayMillis") {
        p.keep_alive_delay_ms = rd.integer(e, 0, kMaxMs);
        mark("keepAliveInitialDelayMillis");
      } else {
        fail(env.file, d.line, d.value_column - static_cast<int>(d.key.size()) - 1,
             fmt::format("unknown node-postgres option '{}' (known: max, idleTimeoutMillis, "
                         "connectionTimeoutMillis, maxLifetimeSeconds, keepAlive, "
                         "keepAliveInitialDelayMillis)",
                         d.key));
      }
    } else if (app.driver == Driver::postgres_js) {
      if (d.key == "idle_timeout") {
        p.idle_timeout_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        mark("idle_timeout");
      } else if (d.key == "connect_timeout") {
        p.connection_timeout_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        mark("connect_timeout");
      } else if (d.key == "max_lifetime") {
        p.max_lifetime_ms = rd.integer(e, 0, kMaxMs / 1000) * 1000;
        mark("max_lifetime");
      } else if (d.key == "keep_alive") {
        if (auto b = to_bool(d.value); b && !*b) {
          p.keep_alive = false;
        } else {
          long long s = rd.integer(e, 0, 86400);
          p.keep_alive = s > 0;
          p.keep_alive_delay_ms = s * 1000;
        }
        mark("keep_alive");
      } else if (d.key == "prepare") {
        p.prepare = rd.boolean(e);
        mark("prepare");
      } else {
        fail(env.file, d.line, d.value_column - static_cast<int>(d.key.size()) - 1,
             fmt::format("unknown postgres.js option '{}' (known: max, idle_timeout, "
                         "connect_timeout, max_lifetime, keep_alive, prepare)",
                         d.key));
      }
    } else {
      fail(env.file, d.line, d.value_column - static_cast<int>(d.key.size()) - 1,
           fmt::format("pool option '{}' needs a driver: add driver=pg or driver=postgres to the "
                       "directive",
                       d.key));
    }
  }
  // postgres.js also reads options from the URL query (lower precedence than code options).
  if (app.driver == Driver::postgres_js && !app.urls.empty()) {
    auto& u = app.urls.front();
    auto& p = app.pool;
    auto q = [&](const char* k) -> const std::string* {
      auto it = u.params.find(k);
      return it == u.params.end() ? nullptr : &it->second;
    };
    auto num = [&](const char* k) -> std::optional<long long> {
      if (auto* v = q(k)) {
        auto n = to_int(*v);
        if (!n || *n < 0)
          fail(env.file, u.line, 1, fmt::format("{}: ?{}={} is not a whole number", u.var, k, *v));
        return n;
      }
      return std::nullopt;
    };
    if (!p.lines.count("max"))
      if (auto n = num("max")) p.max = static_cast<int>(*n);
    if (!p.lines.count("idle_timeout"))
      if (auto n = num("idle_timeout")) p.idle_timeout_ms = *n * 1000;
    if (!p.lines.count("connect_timeout"))
      if (auto n = num("connect_timeout")) p.connection_timeout_ms = *n * 1000;
    if (!p.lines.count("max_lifetime"))
      if (auto n = num("max_lifetime")) p.max_lifetime_ms = *n * 1000;
    if (!p.lines.count("prepare"))
      if (auto* v = q("prepare")) p.prepare = !(*v == "false" || *v == "disable");
  }
  if (spec.instances) app.instances = *spec.instances;
  if (spec.max) {
    if (app.driver == Driver::zero)
      throw InputError(
          fmt::format("{}: max= does not apply to Zero; set ZERO_UPSTREAM_MAX_CONNS, "
                      "ZERO_CVR_MAX_CONNS and ZERO_CHANGE_MAX_CONNS",
                      env.file));
    app.pool.max = *spec.max;
  }
  if (spec.name) app.name = *spec.name;
  return app;
}

AppConfig load_app(const AppSpec& spec) {
  if (!spec.url) return build_app(load_env_file(spec.file), spec);
  EnvFile env;
  env.file = "--app";
  env.entries.push_back({"DATABASE_URL", *spec.url, 1, 1});
  AppConfig app = build_app(env, spec);
  if (!spec.name && !app.urls.empty()) app.name = app.urls.front().raw_redacted;
  return app;
}

ProxySettings proxy_settings_from(const pgw::ProxyConfig& cfg) {
  ProxySettings p;
  p.file = cfg.source;
  for (auto& l : cfg.listen) p.listen.emplace_back(l.host, l.port);
  p.max_client_conn = cfg.max_client_conn;
  p.pool_mode = to_string(cfg.pool_mode);
  p.max_prepared_statements = cfg.max_prepared_statements;
  int users = std::max<int>(1, static_cast<int>(cfg.users.size()));
  for (auto& [name, db] : cfg.databases) {
    ProxyPool pool;
    pool.database = name;
    pool.host = db.host;
    pool.port = db.port;
    pool.mode = to_string(db.pool_mode.value_or(cfg.pool_mode));
    int size = db.pool_size.value_or(cfg.default_pool_size);
    int reserve = db.reserve_pool_size.value_or(cfg.reserve_pool_size);
    int pairs = db.user ? 1 : users;
    long long total = static_cast<long long>(size + reserve) * pairs;
    pool.how = fmt::format("(pool_size {} + reserve_pool_size {}) x {} user pool(s)", size, reserve,
                           pairs);
    if (db.max_db_connections > 0 && db.max_db_connections < total) {
      total = db.max_db_connections;
      pool.how += fmt::format(", capped by max_db_connections {}", db.max_db_connections);
    }
    pool.server_connections = static_cast<int>(total);
    pool.server_dbname = db.dbname.empty() ? name : db.dbname;
    if (db.user)
      pool.users.push_back(*db.user);
    else
      for (auto& [uname, u] : cfg.users) pool.users.push_back(uname);
    pool.per_user = std::min(size + reserve, pool.server_connections);
    p.pools.push_back(pool);
  }
  p.client_idle_ms = cfg.timeouts.client_idle.count();
  p.server_idle_ms = cfg.timeouts.server_idle.count();
  p.server_lifetime_ms = cfg.timeouts.server_lifetime.count();
  p.idle_transaction_ms = cfg.timeouts.idle_transaction.count();
  p.query_ms = cfg.timeouts.query.count();
  p.keepalive = cfg.keepalive.enabled;
  p.keepalive_idle_s = cfg.keepalive.idle_s;
  p.keepalive_interval_s = cfg.keepalive.interval_s;
  p.keepalive_count = cfg.keepalive.count;
  p.user_timeout_ms = cfg.keepalive.user_timeout.count();
  return p;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  double v = 0;
  try {
    v = std::stod(std::string(text.substr(0, i)));
  } catch (...) {
    return std::nullopt;
  }
  std::string unit(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  double f = 0;
  if (unit.empty() || unit == "b")
    f = 1;
  else if (unit == "kb" || unit == "kib" || unit == "k")
    f = 1024.0;
  else if (unit == "mb" || unit == "mib" || unit == "m")
    f = 1024.0 * 1024;
  else if (unit == "gb" || unit == "gib" || unit == "g")
    f = 1024.0 * 1024 * 1024;
  else if (unit == "tb" || unit == "tib" || unit == "t")
    f = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  double bytes = v * f;
  if (!(bytes >= 1) || bytes > 1e18) return std::nullopt;
  return static_cast<uint64_t>(std::llround(bytes));
}

std::string format_bytes(long long b) {
  const long long kB = 1024, MB = kB * 1024, GB = MB * 1024;
  if (b < 0) return std::to_string(b);
  if (b >= GB && b % GB == 0) return fmt::format("{}GB", b / GB);
  if (b >= GB) return fmt::format("{:.1f}GB", static_cast<double>(b) / static_cast<double>(GB));
  if (b >= MB && b % MB == 0) return fmt::format("{}MB", b / MB);
  if (b >= MB) return fmt::format("{:.1f}MB", static_cast<double>(b) / static_cast<double>(MB));
  if (b >= kB && b % kB == 0) return fmt::format("{}kB", b / kB);
  return fmt::format("{}B", b);
}

}  // namespace pgw::audit
