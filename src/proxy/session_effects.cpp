#include "pgwarden/proxy/session_effects.hpp"

#include <cctype>
#include <string>

#include "pgwarden/wire/sql_lex.hpp"

namespace pgw::proxy {

namespace {
char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

using wire::skip_blank;

std::string word(std::string_view s, size_t& i) {
  return wire::next_word(s, i);
}

// A setting's name from `i` (letters, digits, _ and .), lower-cased; advances `i`.
std::string setting_name(std::string_view s, size_t& i) {
  i = skip_blank(s, i);
  std::string w;
  while (i < s.size() &&
         (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
    w.push_back(lower(s[i++]));
  return w;
}

void add_custom(std::vector<std::string>& out, std::string name) {
  if (name.find('.') == std::string::npos || name.size() > 63) return;
  for (auto& n : out)
    if (n == name) return;
  out.push_back(std::move(name));
}

// Names given as a string literal to set_config('name', ...).
void set_config_names(std::string_view sql, std::vector<std::string>& out) {
  const std::string_view fn = "set_config";
  for (size_t i = 0; i + fn.size() <= sql.size(); ++i) {
    size_t j = 0;
    while (j < fn.size() && lower(sql[i + j]) == fn[j]) ++j;
    if (j < fn.size()) continue;
    size_t p = skip_blank(sql, i + fn.size());
    if (p >= sql.size() || sql[p] != '(') continue;
    p = skip_blank(sql, p + 1);
    if (p >= sql.size() || sql[p] != '\'') continue;
    size_t end = sql.find('\'', p + 1);
    if (end == std::string_view::npos) return;
    std::string name;
    for (char c : sql.substr(p + 1, end - p - 1)) name.push_back(lower(c));
    add_custom(out, std::move(name));
  }
}

// The end of the statement starting at `i`: the next ';' outside quotes,
// dollar quotes and comments.
size_t statement_end(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == ';') return i;
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != c) ++j;
      i = j + 1;
    } else if (c == '$') {
      size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j < s.size() && s[j] == '$') {
        std::string_view tag = s.substr(i, j - i + 1);
        size_t close = s.find(tag, j + 1);
        i = close == std::string_view::npos ? s.size() : close + tag.size();
      } else {
        i = j;
      }
    } else if (s.substr(i, 2) == "--" || s.substr(i, 2) == "/*") {
      i = skip_blank(s, i);
    } else {
      ++i;
    }
  }
  return s.size();
}
}  // namespace

SessionEffects scan_session_effects(std::string_view sql) {
  SessionEffects fx;
  // Function calls can appear anywhere in a statement.
  if (contains_nocase(sql, "set_config")) {
    fx.settings = true;
    fx.resets = true;  // set_config(name, NULL, ...) resets
    set_config_names(sql, fx.custom_names);
  }
  if (contains_nocase(sql, "pg_advisory_lock") || contains_nocase(sql, "pg_try_advisory_lock"))
    fx.uncarried = "a session-level advisory lock";
  size_t i = 0;
  while (i < sql.size()) {
    size_t start = skip_blank(sql, i);
    size_t end = statement_end(sql, start);
    std::string_view stmt = sql.substr(start, end - start);
    size_t p = 0;
    const std::string first = word(stmt, p);
    if (first == "set") {
      size_t q = p;
      std::string name = setting_name(stmt, q);
      if (name == "session") name = setting_name(stmt, q);
      if (name != "local" && name != "transaction") {
        fx.settings = true;
        add_custom(fx.custom_names, std::move(name));
        size_t v = skip_blank(stmt, q);
        if (v < stmt.size() && stmt[v] == '=')
          ++v;
        else if (word(stmt, v) != "to")
          v = stmt.size();
        if (v < stmt.size() && word(stmt, v) == "default" && skip_blank(stmt, v) == stmt.size())
          fx.resets = true;
      }
    } else if (first == "reset") {
      fx.settings = fx.resets = true;
      add_custom(fx.custom_names, setting_name(stmt, p));
    } else if (first == "discard") {
      fx.settings = fx.resets = true;
    } else if (!fx.uncarried) {
      if (first == "listen") {
        fx.uncarried = "LISTEN";
      } else if (first == "prepare") {
        if (word(stmt, p) != "transaction") fx.uncarried = "a prepared statement made with PREPARE";
      } else if (first == "declare") {
        if (contains_nocase(stmt, "with hold")) fx.uncarried = "a WITH HOLD cursor";
      } else if (first == "create") {
        std::string w = word(stmt, p);
        if (w == "or") {  // CREATE OR REPLACE TEMP VIEW
          word(stmt, p);
          w = word(stmt, p);
        }
        if (w == "local" || w == "global") w = word(stmt, p);
        if (w == "temp" || w == "temporary") fx.uncarried = "a temporary table";
      }
    }
    i = end + 1;
  }
  return fx;
}

}  // namespace pgw::proxy
