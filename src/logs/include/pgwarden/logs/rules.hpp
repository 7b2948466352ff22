#pragma once
// Rule packs: data (TOML) mapping log messages to stable classes. The built-in
// pack is compiled into the binary; users override or extend it with --rules.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace re2 {
class RE2;
}

namespace pgw::logs {

struct Record;

enum class Source : uint8_t { Postgres, Pgbouncer, Pgwarden, App };
std::string_view source_name(Source s);
Source source_of(std::string_view kind);  // from source_kind(Format)

enum class Field : uint8_t { Message, Detail, Line };
// What a rule says about the connection's life: nothing, it started, it
// authenticated, it ended normally (disconnection line), or it ended badly.
enum class SessionMark : uint8_t { None, Start, Authorized, End };

struct Rule {
  std::string cls;        // stable class, e.g. "pg.too_many_clients"
  std::string severity;   // info | notice | warning | error | critical
  std::string meaning;    // one line
  std::string event;      // event model name: client.open, client.close, server.close, ...
  std::string cause;      // snake_case cause
  std::string sqlstate;   // the SQLSTATE this message carries, when fixed
  std::string component;  // who logged it: postgres, pgbouncer, node-postgres, ioredis, ...
  Source source = Source::Postgres;
  Field field = Field::Message;
  std::vector<std::string> prefixes;  // the field starts with one of these (cheap literal test)
  std::vector<std::string> contains;  // every literal must occur
  std::vector<std::string> levels;    // optional: only these levels
  std::string regex_text;             // optional RE2 (partial match) with named captures
  std::shared_ptr<re2::RE2> regex;
  uint32_t level_mask = 0;  // levels as bits (0: any level, or names without a bit)
  bool failure = false;     // counts towards incidents / first-failure verdicts
  SessionMark session = SessionMark::None;
};

// Named captures of a match: host, port, user, database, app, pid, session_time, errno, ...
using Captures = std::vector<std::pair<std::string, std::string>>;

class RulePack {
 public:
  // The built-in pack (embedded TOML).
  static const char* builtin_toml();
  // Parses TOML; throws std::runtime_error with file/line context on errors.
  void load_toml(std::string_view text, const std::string& origin);
  // Merges a user pack: a rule whose class exists replaces it in place;
  // `disabled = true` removes it; new classes go before the built-in ones.
  void merge(RulePack&& user);
  void finalize();  // builds the prefilter index; call after loading/merging

  // First matching rule for the record, or -1. Captures receive named groups.
  int classify(const Record& r, Source src, Captures* caps) const;
  // Cheap pre-test on a message before a Record is built: false when no rule
  // can match (most statement/duration lines), so the reader can skip the entry.
  bool may_match(Source src, std::string_view level, std::string_view message) const;
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule& rule(int i) const { return rules_[static_cast<size_t>(i)]; }
  int find(std::string_view cls) const;

 private:
  bool matches(const Rule& rule, const Record& r, uint32_t level, Captures* caps) const;
  std::vector<Rule> rules_;
  std::vector<std::string> disabled_;
  // Per source: rule indexes in order, and for prefix rules on the message the
  // first byte of the prefix, so a line is only compared with rules that can match.
  struct Index {
    std::array<std::vector<int>, 256> by_first;  // prefix rules + always-candidates, in rule order
  };
  std::array<Index, 4> index_;
};

}  // namespace pgw::logs
