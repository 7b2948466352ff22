#pragma once
// Readers turn physical lines into Records: PostgreSQL stderr (any
// log_line_prefix, multi-line entries), csvlog, jsonlog, PgBouncer, pgwarden
// events, JSON-lines and plain-text application logs. Push-based: feed lines,
// receive records, so the same code serves files, stdin and --follow.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/core/json_text.hpp"
#include "pgwarden/logs/prefix.hpp"
#include "pgwarden/logs/record.hpp"
#include "pgwarden/logs/rules.hpp"

namespace pgw::logs {

// Input that was skipped, by reason, with a few examples (escaped, truncated).
struct BadInput {
  std::map<std::string, uint64_t>
      counts;  // binary, too_long, invalid_utf8, unknown_prefix, bad_json, bad_csv, ...
  std::map<std::string, std::vector<std::string>> examples;  // up to 3 per reason
  void add(const std::string& reason, std::string_view sample, const std::string& where);
  void merge(const BadInput& o);
  uint64_t total() const;
};

// Printable ASCII/UTF-8 copy of s, at most max bytes; invalid bytes become \xNN.
std::string escape_sample(std::string_view s, size_t max = 160);
using pgw::valid_utf8;  // from core/json_text.hpp

using RecordSink = std::function<void(Record&)>;

class Reader {
 public:
  virtual ~Reader() = default;
  // One physical line without its newline; line_no is 1-based.
  virtual void line(std::string_view l, uint64_t line_no) = 0;
  // Flushes a pending multi-line entry (end of input, or idle in --follow).
  virtual void finish() = 0;
  // stderr: the log_line_prefix in use (given or detected); empty otherwise.
  virtual std::string prefix_used() const { return {}; }
};

struct ReaderOptions {
  uint32_t file_index = 0;
  std::string file_name;  // for bad-input examples
  // stderr: the prefix to use (nullopt: detect from the first lines).
  std::optional<std::string> prefix;
  size_t max_detail = 1024;  // bytes of DETAIL kept per entry
  // stderr: entries no rule can match are skipped before a Record is built
  // (counted in *skipped); ERROR and WARNING entries are always delivered.
  const RulePack* prefilter = nullptr;
  uint64_t* skipped = nullptr;
};

// Guesses the format from the first lines of an input.
Format detect_format(const std::vector<std::string>& sample);

// Creates the reader for a (non-auto) format. For stderr without a prefix the
// reader buffers its first lines to detect the prefix.
std::unique_ptr<Reader> make_reader(Format f, const ReaderOptions& o, RecordSink sink,
                                    BadInput* bad);

// Splits a byte stream into lines: handles \r\n, caps a line at max_line bytes
// (the rest of an enormous line is skipped and counted as too_long), skips binary
// lines (NUL bytes) and counts lines with invalid UTF-8 (kept, escaped on output).
class LineSplitter {
 public:
  using LineFn = std::function<void(std::string_view, uint64_t)>;
  LineSplitter(LineFn fn, BadInput* bad, std::string file_name, size_t max_line = 1 << 20);
  void feed(std::string_view chunk);
  void finish();  // a last line without newline
  uint64_t lines() const { return line_no_; }

 private:
  void emit(std::string_view l);
  LineFn fn_;
  BadInput* bad_;
  std::string file_;
  size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
  uint64_t line_no_ = 0;
};

}  // namespace pgw::logs
