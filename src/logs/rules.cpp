#include <re2/re2.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstring>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "pgwarden/logs/record.hpp"
#include "pgwarden/logs/rules.hpp"

namespace pgw::logs {

std::string_view source_name(Source s) {
  switch (s) {
    case Source::Postgres:
      return "postgres";
    case Source::Pgbouncer:
      return "pgbouncer";
    case Source::Pgwarden:
      return "pgwarden";
    case Source::App:
      return "app";
  }
  return "app";
}

Source source_of(std::string_view kind) {
  if (kind == "postgres") return Source::Postgres;
  if (kind == "pgbouncer") return Source::Pgbouncer;
  if (kind == "pgwarden") return Source::Pgwarden;
  return Source::App;
}

namespace {
// Bits for the severities PostgreSQL writes; 0 for anything else.
uint32_t level_bit(std::string_view l) {
  // bit order: LOG FATAL ERROR WARNING PANIC NOTICE INFO DEBUG DEBUG1-5 DETAIL HINT CONTEXT
  // STATEMENT
  switch (l.size()) {
    case 3:
      return l == "LOG" ? 1u << 0 : 0;
    case 4:
      return l == "INFO" ? 1u << 6 : l == "HINT" ? 1u << 14 : 0;
    case 5:
      return l == "FATAL"   ? 1u << 1
             : l == "ERROR" ? 1u << 2
             : l == "PANIC" ? 1u << 4
             : l == "DEBUG" ? 1u << 7
                            : 0;
    case 6:
      if (l == "NOTICE") return 1u << 5;
      if (l == "DETAIL") return 1u << 13;
      if (l.starts_with("DEBUG") && l[5] >= '1' && l[5] <= '5')
        return 1u << (8 + static_cast<unsigned>(l[5] - '1'));
      return 0;
    case 7:
      return l == "WARNING" ? 1u << 3 : l == "CONTEXT" ? 1u << 15 : 0;
    case 9:
      return l == "STATEMENT" ? 1u << 16 : 0;
    default:
      return 0;
  }
}

bool level_ok(const Rule& rule, std::string_view level, uint32_t bit) {
  if (rule.levels.empty()) return true;
  if (rule.level_mask) return (rule.level_mask & bit) != 0;
  return std::find(rule.levels.begin(), rule.levels.end(), level) != rule.levels.end();
}

bool starts_with(std::string_view text, const std::string& p) {
  return text.size() >= p.size() && text[0] == p[0] &&
         std::memcmp(text.data(), p.data(), p.size()) == 0;
}

std::string where(const toml::node& n, const std::string& origin) {
  std::ostringstream o;
  o << origin << ":" << n.source().begin.line;
  return o.str();
}
std::vector<std::string> string_list(const toml::node* n, const std::string& key,
                                     const std::string& origin) {
  std::vector<std::string> out;
  if (!n) return out;
  if (auto s = n->value<std::string>()) {
    out.push_back(*s);
  } else if (auto arr = n->as_array()) {
    for (auto& e : *arr) {
      auto v = e.value<std::string>();
      if (!v) throw std::runtime_error(where(e, origin) + ": " + key + " must hold strings");
      out.push_back(*v);
    }
  } else {
    throw std::runtime_error(where(*n, origin) + ": " + key + " must be a string or an array");
  }
  return out;
}
}  // namespace

void RulePack::load_toml(std::string_view text, const std::string& origin) {
  toml::table tbl;
  try {
    tbl = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
      << e.description();
    throw std::runtime_error(o.str());
  }
  auto* arr = tbl["rule"].as_array();
  if (!arr) throw std::runtime_error(origin + ": no [[rule]] tables");
  static const std::vector<std::string> kKeys{
      "class", "severity", "meaning",  "event",  "cause", "sqlstate", "component", "source",
      "field", "prefix",   "contains", "levels", "regex", "failure",  "session",   "disabled"};
  for (auto& node : *arr) {
    auto* t = node.as_table();
    if (!t) throw std::runtime_error(where(node, origin) + ": rule must be a table");
    for (auto& [k, v] : *t) {
      if (std::find(kKeys.begin(), kKeys.end(), std::string(k.str())) == kKeys.end())
        throw std::runtime_error(where(v, origin) + ": unknown rule key '" + std::string(k.str()) +
                                 "'");
    }
    Rule r;
    r.cls = t->get("class") ? t->get("class")->value_or(std::string{}) : std::string{};
    if (r.cls.empty()) throw std::runtime_error(where(node, origin) + ": rule without class");
    auto str = [&](const char* key, const std::string& def = {}) {
      const toml::node* n = t->get(key);
      if (!n) return def;
      auto v = n->value<std::string>();
      if (!v) throw std::runtime_error(where(*n, origin) + ": " + key + " must be a string");
      return *v;
    };
    if (const toml::node* d = t->get("disabled"); d && d->value_or(false)) {
      disabled_.push_back(r.cls);
      continue;
    }
    r.severity = str("severity", "info");
    static const std::vector<std::string> kSev{"info", "notice", "warning", "error", "critical"};
    if (std::find(kSev.begin(), kSev.end(), r.severity) == kSev.end())
      throw std::runtime_error(where(node, origin) + ": class " + r.cls + ": bad severity '" +
                               r.severity + "'");
    r.meaning = str("meaning");
    r.event = str("event", "log");
    r.cause = str("cause");
    r.sqlstate = str("sqlstate");
    std::string src = str("source", "postgres");
    if (src != "postgres" && src != "pgbouncer" && src != "pgwarden" && src != "app")
      throw std::runtime_error(where(node, origin) + ": class " + r.cls + ": bad source '" + src +
                               "'");
    r.source = source_of(src);
    r.component = str("component", src);
    std::string field = str("field", "message");
    if (field == "message")
      r.field = Field::Message;
    else if (field == "detail")
      r.field = Field::Detail;
    else if (field == "line")
      r.field = Field::Line;
    else
      throw std::runtime_error(where(node, origin) + ": bad field '" + field + "'");
    r.prefixes = string_list(t->get("prefix"), "prefix", origin);
    r.prefixes.erase(std::remove(r.prefixes.begin(), r.prefixes.end(), std::string{}),
                     r.prefixes.end());
    r.contains = string_list(t->get("contains"), "contains", origin);
    r.levels = string_list(t->get("levels"), "levels", origin);
    for (const auto& l : r.levels) {
      uint32_t bit = level_bit(l);
      if (bit == 0) {  // a name without a bit: compare strings instead
        r.level_mask = 0;
        break;
      }
      r.level_mask |= bit;
    }
    r.regex_text = str("regex");
    if (!r.regex_text.empty()) {
      RE2::Options opts;
      opts.set_log_errors(false);
      r.regex = std::make_shared<RE2>(r.regex_text, opts);
      if (!r.regex->ok())
        throw std::runtime_error(where(node, origin) + ": class " + r.cls +
                                 ": bad regex: " + r.regex->error());
    }
    if (const toml::node* f = t->get("failure")) r.failure = f->value_or(false);
    std::string session = str("session", "none");
    if (session == "none")
      r.session = SessionMark::None;
    else if (session == "start")
      r.session = SessionMark::Start;
    else if (session == "authorized")
      r.session = SessionMark::Authorized;
    else if (session == "end")
      r.session = SessionMark::End;
    else
      throw std::runtime_error(where(node, origin) + ": bad session '" + session + "'");
    rules_.push_back(std::move(r));
  }
}

void RulePack::merge(RulePack&& user) {
  for (const auto& d : user.disabled_) {
    rules_.erase(
        std::remove_if(rules_.begin(), rules_.end(), [&](const Rule& r) { return r.cls == d; }),
        rules_.end());
  }
  std::vector<Rule> fresh;
  for (auto& r : user.rules_) {
    auto it =
        std::find_if(rules_.begin(), rules_.end(), [&](const Rule& x) { return x.cls == r.cls; });
    if (it != rules_.end())
      *it = std::move(r);
    else
      fresh.push_back(std::move(r));
  }
  rules_.insert(rules_.begin(), std::make_move_iterator(fresh.begin()),
                std::make_move_iterator(fresh.end()));
}

void RulePack::finalize() {
  for (auto& idx : index_) {
    for (auto& v : idx.by_first) v.clear();
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    auto& idx = index_[static_cast<size_t>(r.source)];
    if (r.field == Field::Message && !r.prefixes.empty()) {
      for (const auto& p : r.prefixes) {
        auto& v = idx.by_first[static_cast<unsigned char>(p[0])];
        if (v.empty() || v.back() != static_cast<int>(i)) v.push_back(static_cast<int>(i));
      }
    } else {
      for (auto& v : idx.by_first) v.push_back(static_cast<int>(i));
    }
  }
}

int RulePack::find(std::string_view cls) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].cls == cls) return static_cast<int>(i);
  }
  return -1;
}

bool RulePack::matches(const Rule& rule, const Record& r, uint32_t level, Captures* caps) const {
  const std::string& text = rule.field == Field::Message  ? r.message
                            : rule.field == Field::Detail ? r.detail
                                                          : (r.line.empty() ? r.message : r.line);
  if (!level_ok(rule, r.level, level)) return false;
  if (!rule.prefixes.empty()) {
    bool any = false;
    for (const auto& p : rule.prefixes) {
      if (starts_with(text, p)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  for (const auto& c : rule.contains) {
    if (text.find(c) == std::string::npos) return false;
  }
  if (rule.regex) {
    const RE2& re = *rule.regex;
    int n = re.NumberOfCapturingGroups();
    if (n <= 0 || !caps) return RE2::PartialMatch(text, re);
    std::vector<re2::StringPiece> groups(static_cast<size_t>(n) + 1);
    if (!re.Match(text, 0, text.size(), RE2::UNANCHORED, groups.data(), n + 1)) return false;
    for (const auto& [name, i] : re.NamedCapturingGroups()) {
      const auto& g = groups[static_cast<size_t>(i)];
      if (g.data()) caps->emplace_back(name, std::string(g.data(), g.size()));
    }
  }
  return true;
}

bool RulePack::may_match(Source src, std::string_view level, std::string_view message) const {
  const auto& idx = index_[static_cast<size_t>(src)];
  unsigned char first = message.empty() ? 0 : static_cast<unsigned char>(message[0]);
  uint32_t bit = level_bit(level);
  for (int i : idx.by_first[first]) {
    const Rule& rule = rules_[static_cast<size_t>(i)];
    if (!level_ok(rule, level, bit)) continue;
    if (rule.field != Field::Message || rule.prefixes.empty()) return true;
    for (const auto& p : rule.prefixes) {
      if (starts_with(message, p)) return true;
    }
  }
  return false;
}

int RulePack::classify(const Record& r, Source src, Captures* caps) const {
  const auto& idx = index_[static_cast<size_t>(src)];
  unsigned char first = r.message.empty() ? 0 : static_cast<unsigned char>(r.message[0]);
  uint32_t level = level_bit(r.level);
  for (int i : idx.by_first[first]) {
    if (caps) caps->clear();
    if (matches(rules_[static_cast<size_t>(i)], r, level, caps)) return i;
  }
  if (caps) caps->clear();
  return -1;
}

}  // namespace pgw::logs
