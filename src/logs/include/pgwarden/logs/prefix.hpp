#pragma once
// PostgreSQL stderr log lines: log_line_prefix compiled into a matcher, the
// "LEVEL:  message" part after it, and prefix detection from sample lines.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::logs {

// The part of a stderr line after the prefix.
struct LineBody {
  std::string_view level;     // LOG, FATAL, DETAIL, ...
  std::string_view message;   // text after "LEVEL:  " (a verbose "NNNNN: " SQLSTATE removed)
  std::string_view sqlstate;  // from log_error_verbosity=verbose, else empty
};

// Fields a prefix can carry; views into the parsed line.
struct PrefixFields {
  std::string_view ts, user, database, app, host, port, sqlstate, session;
  int64_t pid = 0;
  int64_t ts_us = 0;  // parsed %t/%m/%n
  bool has_ts = false;
  LineBody body;  // what follows the prefix, once match() succeeded
};

// Recognises "LEVEL:  rest"; returns nullopt when s does not start so.
std::optional<LineBody> parse_body(std::string_view s);
// True for DETAIL, HINT, CONTEXT, STATEMENT, QUERY, LOCATION, BACKTRACE.
bool is_continuation_level(std::string_view level);

// Strips a CloudWatch export timestamp ("2026-08-20T10:15:02.123Z ") if present.
std::string_view strip_cloudwatch(std::string_view line);

class LinePrefix {
 public:
  // Compiles a log_line_prefix ("%m [%p] ", RDS's "%t:%r:%u@%d:[%p]:", ...).
  // "generic" (or an empty spec with generic=true) selects the heuristic matcher
  // used for unknown prefixes: any text up to the first "LEVEL:  ".
  static std::optional<LinePrefix> compile(std::string_view spec, std::string* error = nullptr);
  static LinePrefix generic();

  // Matches the prefix at the start of line (after strip_cloudwatch); on success
  // fills *f and returns the offset where "LEVEL:  " starts.
  std::optional<size_t> match(std::string_view line, PrefixFields* f) const;
  const std::string& spec() const { return spec_; }
  bool is_generic() const { return generic_; }

 private:
  struct Token {
    char esc = 0;         // 0: literal
    std::string literal;  // for literals
  };
  bool match_from(std::string_view line, size_t tok, size_t pos, PrefixFields* f,
                  size_t* end) const;
  std::optional<size_t> match_generic(std::string_view line, PrefixFields* f) const;
  std::string spec_;
  std::vector<Token> tokens_;
  size_t q_index_ = SIZE_MAX;  // token index of %q
  bool generic_ = false;
};

// Picks the prefix that parses most of the sample lines: from well-known ones
// (Debian's default, RDS/Aurora, pgBadger's recommendations, Azure, Heroku ...)
// or the generic matcher when none fits.
LinePrefix detect_prefix(const std::vector<std::string>& sample);
const std::vector<std::string>& known_prefixes();

}  // namespace pgw::logs
