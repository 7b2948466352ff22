#include <algorithm>
#include <cstring>

#include "pgwarden/logs/prefix.hpp"
#include "pgwarden/logs/record.hpp"

namespace pgw::logs {

namespace {
// The severities PostgreSQL writes before ":  " (and the continuation kinds).
bool is_level(std::string_view w) {
  switch (w.size()) {
    case 3:
      return w == "LOG";
    case 4:
      return w == "HINT" || w == "INFO";
    case 5:
      return w == "FATAL" || w == "ERROR" || w == "PANIC" || w == "QUERY" || w == "DEBUG";
    case 6:
      return w == "DETAIL" || w == "NOTICE" ||
             (w.starts_with("DEBUG") && w[5] >= '1' && w[5] <= '5');
    case 7:
      return w == "WARNING" || w == "CONTEXT";
    case 8:
      return w == "LOCATION";
    case 9:
      return w == "STATEMENT" || w == "BACKTRACE";
    default:
      return false;
  }
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Short literal compare/find without a libc call per line.
inline bool eq_at(std::string_view line, size_t pos, const std::string& lit) {
  if (line.size() - std::min(pos, line.size()) < lit.size()) return false;
  const char* a = line.data() + pos;
  for (size_t i = 0; i < lit.size(); ++i) {
    if (a[i] != lit[i]) return false;
  }
  return true;
}
inline size_t find_lit(std::string_view line, size_t pos, const std::string& lit) {
  if (lit.empty()) return pos;
  while (pos < line.size()) {
    const void* hit = std::memchr(line.data() + pos, lit[0], line.size() - pos);
    if (!hit) return std::string_view::npos;
    size_t at = static_cast<size_t>(static_cast<const char*>(hit) - line.data());
    if (eq_at(line, at, lit)) return at;
    pos = at + 1;
  }
  return std::string_view::npos;
}
bool is_upper_or_digit(char c) {
  return (c >= 'A' && c <= 'Z') || is_digit(c);
}

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return 0;
    v = v * 10 + (c - '0');
    if (v > (int64_t{1} << 40)) return 0;
  }
  return v;
}

// "host(port)" / "[local]" / "host" from %r.
void split_remote(std::string_view r, PrefixFields* f) {
  if (r == "[local]") {
    f->host = r;
    return;
  }
  auto open = r.rfind('(');
  if (open != std::string_view::npos && !r.empty() && r.back() == ')') {
    f->host = r.substr(0, open);
    f->port = r.substr(open + 1, r.size() - open - 2);
  } else {
    f->host = r;
  }
}
}  // namespace

bool is_continuation_level(std::string_view level) {
  return level == "DETAIL" || level == "HINT" || level == "CONTEXT" || level == "STATEMENT" ||
         level == "QUERY" || level == "LOCATION" || level == "BACKTRACE";
}

std::optional<LineBody> parse_body(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && i < 10 && is_upper_or_digit(s[i])) ++i;
  if (i == 0 || i >= s.size() || s[i] != ':') return std::nullopt;
  LineBody b;
  b.level = s.substr(0, i);
  if (!is_level(b.level)) return std::nullopt;
  ++i;
  while (i < s.size() && s[i] == ' ') ++i;
  std::string_view msg = s.substr(i);
  if (msg.size() >= 7 && msg[5] == ':' && msg[6] == ' ' &&
      std::all_of(msg.begin(), msg.begin() + 5, is_upper_or_digit)) {
    b.sqlstate = msg.substr(0, 5);
    msg.remove_prefix(7);
    while (!msg.empty() && msg.front() == ' ') msg.remove_prefix(1);
  }
  b.message = msg;
  return b;
}

std::string_view strip_cloudwatch(std::string_view line) {
  // 2026-08-20T10:15:02.123Z <rest>
  if (line.size() > 21 && line[10] == 'T' && line[4] == '-' && is_digit(line[0])) {
    size_t used = 0;
    if (parse_timestamp(line, &used) && used < line.size() && line[used - 1] == 'Z' &&
        line[used] == ' ') {
      size_t p = used;
      while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
      return line.substr(p);
    }
  }
  return line;
}

std::optional<LinePrefix> LinePrefix::compile(std::string_view spec, std::string* error) {
  LinePrefix p;
  p.spec_ = std::string(spec);
  if (spec == "generic") return generic();
  for (size_t i = 0; i < spec.size(); ++i) {
    char c = spec[i];
    if (c != '%') {
      if (p.tokens_.empty() || p.tokens_.back().esc != 0) p.tokens_.push_back({});
      p.tokens_.back().literal += c;
      continue;
    }
    ++i;
    // padding such as %-10u or %5p: ignored (spaces are skipped while matching)
    while (i < spec.size() && (spec[i] == '-' || is_digit(spec[i]))) ++i;
    if (i >= spec.size()) {
      if (error) *error = "log_line_prefix ends with a lone %";
      return std::nullopt;
    }
    char e = spec[i];
    if (e == '%') {
      if (p.tokens_.empty() || p.tokens_.back().esc != 0) p.tokens_.push_back({});
      p.tokens_.back().literal += '%';
      continue;
    }
    static constexpr std::string_view kKnown = "amnuUdrhbpPtmiecClsvxqQLBg";
    if (kKnown.find(e) == std::string_view::npos) {
      if (error) *error = std::string("unknown log_line_prefix escape %") + e;
      return std::nullopt;
    }
    if (e == 'q') p.q_index_ = p.tokens_.size();
    Token t;
    t.esc = e;
    p.tokens_.push_back(std::move(t));
  }
  return p;
}

LinePrefix LinePrefix::generic() {
  LinePrefix p;
  p.spec_ = "generic";
  p.generic_ = true;
  return p;
}

bool LinePrefix::match_from(std::string_view line, size_t tok, size_t pos, PrefixFields* f,
                            size_t* end) const {
  for (; tok < tokens_.size(); ++tok) {
    const Token& t = tokens_[tok];
    if (t.esc == 0) {
      if (!eq_at(line, pos, t.literal)) return false;
      pos += t.literal.size();
      continue;
    }
    if (t.esc == 'q') {
      // Non-session processes print nothing after %q.
      size_t e = 0;
      PrefixFields copy = *f;
      if (match_from(line, tok + 1, pos, &copy, &e)) {
        *f = copy;
        *end = e;
        return true;
      }
      auto b = parse_body(line.substr(pos));
      if (!b) return false;
      f->body = *b;
      *end = pos;
      return true;
    }
    while (pos < line.size() && line[pos] == ' ' && t.esc == 'p') ++pos;  // padded %p
    const Token* next = tok + 1 < tokens_.size() ? &tokens_[tok + 1] : nullptr;
    auto free_form = [&]() -> std::string_view {
      size_t e;
      if (next && next->esc == 0) {
        e = find_lit(line, pos, next->literal);
        if (e == std::string_view::npos) e = line.size();
      } else {
        e = pos;
        while (e < line.size() && line[e] != ' ') ++e;
      }
      std::string_view v = line.substr(pos, e - pos);
      pos = e;
      return v;
    };
    switch (t.esc) {
      case 't':
      case 'm': {
        size_t used = 0;
        auto ts = pos < line.size() ? parse_timestamp(line.substr(pos), &used) : std::nullopt;
        if (!ts) return false;
        f->ts = line.substr(pos, used);
        f->ts_us = *ts;
        f->has_ts = true;
        pos += used;
        break;
      }
      case 'n': {
        size_t e = pos;
        while (e < line.size() && (is_digit(line[e]) || line[e] == '.')) ++e;
        if (e == pos) return false;
        f->ts = line.substr(pos, e - pos);
        {
          std::string_view v = f->ts;
          auto dot = v.find('.');
          int64_t secs = to_int(v.substr(0, dot));
          int64_t ms = dot == std::string_view::npos ? 0 : to_int(v.substr(dot + 1, 3));
          f->ts_us = secs * 1000000 + ms * 1000;
          f->has_ts = true;
        }
        pos = e;
        break;
      }
      case 'p': {
        size_t e = pos;
        while (e < line.size() && is_digit(line[e])) ++e;
        if (e == pos) return false;
        f->pid = to_int(line.substr(pos, e - pos));
        pos = e;
        break;
      }
      case 'r':
        split_remote(free_form(), f);
        break;
      case 'h':
        f->host = free_form();
        break;
      case 'u':
        f->user = free_form();
        break;
      case 'd':
        f->database = free_form();
        break;
      case 'a':
        f->app = free_form();
        break;
      case 'e': {
        std::string_view v = free_form();
        if (!v.empty() && v.size() != 5) return false;
        f->sqlstate = v;
        break;
      }
      case 'c':
        f->session = free_form();
        break;
      default:
        free_form();
        break;
    }
  }
  auto b = parse_body(line.substr(pos));
  if (!b) return false;
  f->body = *b;
  *end = pos;
  return true;
}

std::optional<size_t> LinePrefix::match_generic(std::string_view line, PrefixFields* f) const {
  size_t limit = std::min<size_t>(line.size(), 512);
  size_t pos = 0;
  while (true) {
    size_t c = line.find(':', pos);
    if (c == std::string_view::npos || c >= limit) return std::nullopt;
    size_t w = c;
    while (w > 0 && is_upper_or_digit(line[w - 1])) --w;
    std::optional<LineBody> b;
    if (w < c && c + 1 < line.size() && line[c + 1] == ' ' && is_level(line.substr(w, c - w)) &&
        (w == 0 || !((line[w - 1] >= 'a' && line[w - 1] <= 'z') || line[w - 1] == '_')) &&
        (b = parse_body(line.substr(w)))) {
      f->body = *b;
      std::string_view head = line.substr(0, w);
      size_t s = 0;
      while (s < head.size() && (head[s] == '[' || head[s] == '<' || head[s] == ' ')) ++s;
      size_t used = 0;
      size_t after_ts = 0;
      if (s < head.size()) {
        if (auto ts = parse_timestamp(head.substr(s), &used)) {
          f->ts = head.substr(s, used);
          f->ts_us = *ts;
          f->has_ts = true;
          after_ts = s + used;
        }
      }
      // pid: the first [digits] or [digits-...] after the timestamp
      for (size_t br = head.find('[', after_ts); br != std::string_view::npos;
           br = head.find('[', br + 1)) {
        size_t e = br + 1;
        while (e < head.size() && is_digit(head[e])) ++e;
        if (e > br + 1 && e < head.size() && (head[e] == ']' || head[e] == '-')) {
          f->pid = to_int(head.substr(br + 1, e - br - 1));
          break;
        }
      }
      auto kv = [&](std::string_view key, std::string_view* out) {
        size_t k = head.find(key);
        if (k == std::string_view::npos) return;
        size_t v = k + key.size();
        size_t e = v;
        while (e < head.size() && head[e] != ',' && head[e] != ' ') ++e;
        *out = head.substr(v, e - v);
      };
      kv("user=", &f->user);
      kv("db=", &f->database);
      kv("app=", &f->app);
      kv("client=", &f->host);
      return w;
    }
    pos = c + 1;
  }
}

std::optional<size_t> LinePrefix::match(std::string_view line, PrefixFields* f) const {
  if (generic_) return match_generic(line, f);
  size_t end = 0;
  if (!match_from(line, 0, 0, f, &end)) return std::nullopt;
  return end;
}

const std::vector<std::string>& known_prefixes() {
  static const std::vector<std::string> k{
      "%m [%p] ",                                         // Debian/Ubuntu default
      "%m [%p] %q%u@%d ",                                 // Debian with user@db
      "%t:%r:%u@%d:[%p]:",                                // RDS / Aurora
      "%m:%r:%u@%d:[%p]:",                                // RDS-like with ms
      "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",  // pgBadger recommendation
      "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
      "%m [%p]: user=%u,db=%d,app=%a,client=%h ",
      "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
      "%t [%p]: [%l-1] db=%d,user=%u,app=%a,client=%h ",
      "%t [%p]: [%l-1] ",
      "%t [%p]: ",
      "%m [%p]: ",
      "%t [%p-%l] %q%u@%d ",
      "%m [%p-%l] %q%u@%d ",
      "%m [%p] %q[%a] %u@%d ",
      "%m [%p] %a %u@%d %r ",
      "%t-%c-",  // Azure
      "%m %p %u %d ",
      "%t ",
      "%m ",
      "[%p] ",
      "",
  };
  return k;
}

LinePrefix detect_prefix(const std::vector<std::string>& sample) {
  LinePrefix best = LinePrefix::generic();
  size_t best_score = 0;
  size_t generic_score = 0;
  PrefixFields f;
  for (const auto& l : sample) {
    if (best.match(strip_cloudwatch(l), &f)) ++generic_score;
  }
  if (generic_score == 0) return best;
  // Score = matched lines, ties broken by the more specific (longer) prefix,
  // which yields more fields. Prefer a known prefix matching ~all generic lines.
  for (const auto& spec : known_prefixes()) {
    auto p = LinePrefix::compile(spec);
    if (!p) continue;
    size_t score = 0;
    size_t with_ts = 0;
    for (const auto& l : sample) {
      PrefixFields pf;
      if (p->match(strip_cloudwatch(l), &pf)) {
        ++score;
        if (!pf.ts.empty()) ++with_ts;
      }
    }
    // Require the prefix to explain nearly every line the generic matcher explains.
    if (score * 10 < generic_score * 9) continue;
    size_t weighted = score * 4 + with_ts * 2;
    if (weighted > best_score) {
      best_score = weighted;
      best = *p;
    }
  }
  return best;
}

}  // namespace pgw::logs
