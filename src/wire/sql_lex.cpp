#include "pgwarden/wire/sql_lex.hpp"

#include <cctype>

namespace pgw::wire {

namespace {
char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// After the statement: blanks, comments and at most one ';' (then blanks).
bool only_end_left(std::string_view s, size_t i) {
  i = skip_blank(s, i);
  if (i < s.size() && s[i] == ';') i = skip_blank(s, i + 1);
  return i == s.size();
}
}  // namespace

size_t skip_blank(std::string_view s, size_t i) {
  for (;;) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (s.substr(i, 2) == "--") {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (s.substr(i, 2) == "/*") {
      size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      return i;
    }
  }
}

std::string next_word(std::string_view s, size_t& i) {
  i = skip_blank(s, i);
  std::string w;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_'))
    w.push_back(lower(s[i++]));
  return w;
}

bool is_empty_query(std::string_view sql) {
  return skip_blank(sql, 0) == sql.size();
}

std::optional<std::string> deallocated_statement(std::string_view sql) {
  size_t i = 0;
  if (next_word(sql, i) != "deallocate") return std::nullopt;
  size_t after_prepare = i;
  // PREPARE is optional noise, unless it is the statement's own name.
  if (next_word(sql, after_prepare) == "prepare" && !only_end_left(sql, after_prepare))
    i = after_prepare;
  i = skip_blank(sql, i);
  std::string name;
  if (i < sql.size() && sql[i] == '"') {
    for (++i;; ++i) {
      if (i >= sql.size()) return std::nullopt;
      if (sql[i] == '"') {
        if (i + 1 < sql.size() && sql[i + 1] == '"') {
          name.push_back('"');
          ++i;
          continue;
        }
        ++i;
        break;
      }
      name.push_back(sql[i]);
    }
    if (name.empty()) return std::nullopt;
  } else {
    name = next_word(sql, i);
    if (name.empty() || name == "all") return std::nullopt;
  }
  return only_end_left(sql, i) ? std::optional<std::string>(std::move(name)) : std::nullopt;
}

TxExit classify_tx_exit(std::string_view sql) {
  size_t i = 0;
  const std::string first = next_word(sql, i);
  TxExit kind = TxExit::other;
  if (first == "rollback" || first == "abort") {
    kind = TxExit::rollback;
  } else if (first == "commit" || first == "end") {
    kind = TxExit::commit;
  } else if (first == "prepare") {
    // PREPARE TRANSACTION 'gid' in a failed transaction rolls it back.
    if (next_word(sql, i) != "transaction") return TxExit::other;
    i = skip_blank(sql, i);
    if (i >= sql.size() || sql[i] != '\'') return TxExit::other;
    const size_t end = sql.find('\'', i + 1);
    if (end == std::string_view::npos) return TxExit::other;
    return only_end_left(sql, end + 1) ? TxExit::commit : TxExit::other;
  } else {
    return TxExit::other;
  }
  size_t j = i;
  std::string w = next_word(sql, j);
  if (w == "work" || w == "transaction") {
    i = j;
    w = next_word(sql, j);
  }
  if (w == "and") {  // AND NO CHAIN ends; AND CHAIN opens a new block
    if (next_word(sql, j) != "no" || next_word(sql, j) != "chain") return TxExit::other;
    i = j;
  }
  return only_end_left(sql, i) ? kind : TxExit::other;
}

}  // namespace pgw::wire
