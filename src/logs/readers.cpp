#include <cstring>
#include <nlohmann/json.hpp>

#include "pgwarden/logs/readers.hpp"

namespace pgw::logs {

namespace {
constexpr size_t kMaxExamples = 3;

// One pass over a line: does it hold a NUL byte, and is it pure ASCII?
void scan_line(std::string_view s, bool* nul, bool* ascii) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  uint64_t high = 0, zero = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    high |= w;
    zero |= (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
  }
  bool z = zero != 0;
  uint64_t h = high & 0x8080808080808080ULL;
  for (; i < n; ++i) {
    if (p[i] == 0) z = true;
    h |= p[i] & 0x80;
  }
  *ascii = h == 0;
  // The word test can fire without a NUL (a borrow next to a 0x80 byte): confirm.
  *nul = z && std::memchr(s.data(), 0, s.size()) != nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
    if (v > (int64_t{1} << 40)) return 0;
  }
  return v;
}

void append_capped(std::string& dst, std::string_view add, size_t cap) {
  if (dst.size() >= cap) return;
  if (!dst.empty()) dst += ' ';
  dst.append(add.substr(0, cap - dst.size() > add.size() ? add.size() : cap - dst.size()));
}

std::string json_str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_array() && !it->empty() && (*it)[0].is_string()) return (*it)[0].get<std::string>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer())
    return std::to_string((*it)[0].get<int64_t>());
  return {};
}

// ts from a JSON value: ISO string, or a number of ms (or s) since the epoch.
bool json_ts(const nlohmann::json& j, Record* r) {
  for (const char* k : {"ts", "timestamp", "time", "@timestamp", "t", "date"}) {
    auto it = j.find(k);
    if (it == j.end()) continue;
    if (it->is_string()) {
      if (auto ts = parse_timestamp(it->get_ref<const std::string&>())) {
        r->ts_us = *ts;
        r->has_ts = true;
        return true;
      }
    } else if (it->is_number()) {
      double v = it->get<double>();
      double us = v > 1e14 ? v : v > 1e11 ? v * 1000 : v * 1e6;  // µs, ms or s
      // Past 1e17 µs (3000 years) it is no time, and the cast to int64 is undefined.
      if (!(us > -1e17 && us < 1e17)) continue;
      r->ts_us = static_cast<int64_t>(us);
      r->has_ts = true;
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------ stderr
class StderrReader : public Reader {
 public:
  StderrReader(const ReaderOptions& o, RecordSink sink, BadInput* bad)
      : opts_(o), sink_(std::move(sink)), bad_(bad) {
    if (o.prefix) {
      std::string err;
      auto p = LinePrefix::compile(*o.prefix, &err);
      if (!p) throw std::runtime_error("--prefix: " + err);
      prefix_ = *p;
      detected_ = true;
    }
  }
  void line(std::string_view l, uint64_t line_no) override {
    if (!detected_) {
      sample_.emplace_back(l);
      sample_no_.push_back(line_no);
      if (sample_.size() >= 200) detect();
      return;
    }
    process(l, line_no);
  }
  void finish() override {
    if (!detected_) detect();
    flush();
  }
  std::string prefix_used() const override { return detected_ ? prefix_.spec() : std::string{}; }

 private:
  void detect() {
    prefix_ = detect_prefix(sample_);
    detected_ = true;
    auto lines = std::move(sample_);
    auto nos = std::move(sample_no_);
    sample_.clear();
    for (size_t i = 0; i < lines.size(); ++i) process(lines[i], nos[i]);
  }
  void flush() {
    if (has_pending_) {
      sink_(rec_);
      has_pending_ = false;
    }
  }
  void process(std::string_view raw, uint64_t line_no) {
    std::string_view l = strip_cloudwatch(raw);
    PrefixFields f;
    auto off = prefix_.match(l, &f);
    if (off) {
      const LineBody* body = &f.body;
      if (is_continuation_level(body->level)) {
        if (skipping_) return;
        if (has_pending_ && (f.pid == 0 || rec_.pid == 0 || f.pid == rec_.pid)) {
          in_detail_ = body->level == "DETAIL";
          if (in_detail_) {
            rec_.detail.clear();
            append_capped(rec_.detail, body->message, opts_.max_detail);
          }
        } else {
          in_detail_ = false;
        }
        return;
      }
      flush();
      if (opts_.prefilter && body->level != "ERROR" && body->level != "WARNING" &&
          !opts_.prefilter->may_match(Source::Postgres, body->level, body->message)) {
        // Nothing can classify this entry (statements, durations, checkpoints...):
        // skip it and its continuation lines without building a Record.
        skipping_ = true;
        in_detail_ = false;
        if (opts_.skipped) ++*opts_.skipped;
        return;
      }
      skipping_ = false;
      rec_.clear();
      rec_.format = Format::Stderr;
      rec_.file_index = opts_.file_index;
      rec_.line_no = line_no;
      rec_.ts_us = f.ts_us;
      rec_.has_ts = f.has_ts;
      rec_.pid = f.pid;
      rec_.level.assign(body->level);
      rec_.message.assign(body->message);
      rec_.sqlstate.assign(!body->sqlstate.empty() ? body->sqlstate : f.sqlstate);
      rec_.user.assign(f.user);
      rec_.database.assign(f.database);
      rec_.application_name.assign(f.app);
      rec_.host.assign(f.host);
      rec_.port.assign(f.port);
      if (rec_.user == "[unknown]") rec_.user.clear();
      if (rec_.database == "[unknown]") rec_.database.clear();
      if (rec_.application_name == "[unknown]") rec_.application_name.clear();
      has_pending_ = true;
      in_detail_ = false;
      return;
    }
    // Not a prefixed line: a continuation of the previous entry (statement text,
    // DETAIL spanning lines), unless it looks like another prefix/format.
    size_t used = 0;
    bool starts_with_ts = !l.empty() && l[0] >= '0' && l[0] <= '9' && parse_timestamp(l, &used);
    if ((has_pending_ || skipping_) && !starts_with_ts) {
      if (in_detail_) append_capped(rec_.detail, trim(l), opts_.max_detail);
      return;
    }
    if (trim(l).empty()) return;
    bad_->add(starts_with_ts ? "unknown_prefix" : "unparsed", l,
              opts_.file_name + ":" + std::to_string(line_no));
  }

  ReaderOptions opts_;
  RecordSink sink_;
  BadInput* bad_;
  LinePrefix prefix_ = LinePrefix::generic();
  bool detected_ = false;
  std::vector<std::string> sample_;
  std::vector<uint64_t> sample_no_;
  Record rec_;
  bool has_pending_ = false;
  bool in_detail_ = false;
  bool skipping_ = false;  // the current entry was prefiltered away
};

// ------------------------------------------------------------------ csvlog
class CsvReader : public Reader {
 public:
  CsvReader(const ReaderOptions& o, RecordSink sink, BadInput* bad)
      : opts_(o), sink_(std::move(sink)), bad_(bad) {}
  void line(std::string_view l, uint64_t line_no) override {
    if (fields_.empty() && !in_quotes_) {
      start_line_ = line_no;
      fields_.emplace_back();
    } else {
      fields_.back() += '\n';  // a newline inside a quoted field
    }
    for (size_t i = 0; i < l.size(); ++i) {
      char c = l[i];
      if (in_quotes_) {
        if (c == '"') {
          if (i + 1 < l.size() && l[i + 1] == '"') {
            fields_.back() += '"';
            ++i;
          } else {
            in_quotes_ = false;
          }
        } else if (fields_.back().size() < 64 * 1024) {
          fields_.back() += c;
        }
      } else if (c == '"') {
        in_quotes_ = true;
      } else if (c == ',') {
        fields_.emplace_back();
      } else if (c != '\r') {
        fields_.back() += c;
      }
    }
    if (in_quotes_ && line_no - start_line_ > 10000) {  // runaway quote: resync
      bad_->add("bad_csv", l, opts_.file_name + ":" + std::to_string(start_line_));
      fields_.clear();
      in_quotes_ = false;
      return;
    }
    if (!in_quotes_) emit();
  }
  void finish() override {
    if (!fields_.empty()) {
      bad_->add("bad_csv", fields_.front(), opts_.file_name + ":" + std::to_string(start_line_));
      fields_.clear();
      in_quotes_ = false;
    }
  }

 private:
  void emit() {
    auto& f = fields_;
    if (f.size() == 1 && trim(f[0]).empty()) {
      f.clear();
      return;
    }
    if (f.size() < 14) {
      bad_->add("bad_csv", f[0], opts_.file_name + ":" + std::to_string(start_line_));
      f.clear();
      return;
    }
    rec_.clear();
    rec_.format = Format::Csvlog;
    rec_.file_index = opts_.file_index;
    rec_.line_no = start_line_;
    if (auto ts = parse_timestamp(f[0])) {
      rec_.ts_us = *ts;
      rec_.has_ts = true;
    }
    rec_.user = f[1];
    rec_.database = f[2];
    rec_.pid = to_int(f[3]);
    std::string_view from = f[4];
    auto colon = from.rfind(':');
    if (colon != std::string_view::npos && from.find('(') == std::string_view::npos) {
      rec_.host = std::string(from.substr(0, colon));
      rec_.port = std::string(from.substr(colon + 1));
    } else {
      rec_.host = std::string(from);
    }
    rec_.level = f[11];
    rec_.sqlstate = f[12];
    rec_.message = f[13];
    if (f.size() > 14) rec_.detail = f[14].substr(0, opts_.max_detail);
    if (f.size() > 22) rec_.application_name = f[22];
    sink_(rec_);
    f.clear();
  }
  ReaderOptions opts_;
  RecordSink sink_;
  BadInput* bad_;
  std::vector<std::string> fields_;
  bool in_quotes_ = false;
  uint64_t start_line_ = 0;
  Record rec_;
};

// ------------------------------------------------------------------ JSON formats
class JsonReader : public Reader {
 public:
  JsonReader(Format f, const ReaderOptions& o, RecordSink sink, BadInput* bad)
      : format_(f), opts_(o), sink_(std::move(sink)), bad_(bad) {}
  void line(std::string_view l, uint64_t line_no) override {
    std::string_view t = trim(l);
    if (t.empty()) return;
    rec_.clear();
    rec_.file_index = opts_.file_index;
    rec_.line_no = line_no;
    rec_.format = format_;
    auto j = nlohmann::json::parse(t, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (format_ == Format::JsonLines) {
        // Mixed formats: a plain-text line in an app log still gets classified.
        text_record(l);
        sink_(rec_);
        return;
      }
      bad_->add("bad_json", l, opts_.file_name + ":" + std::to_string(line_no));
      return;
    }
    switch (format_) {
      case Format::Jsonlog:
        jsonlog(j);
        break;
      case Format::Pgwarden:
        pgwarden(j);
        break;
      default:
        app(j, l);
        break;
    }
    sink_(rec_);
  }
  void finish() override {}

 private:
  void jsonlog(const nlohmann::json& j) {
    if (auto ts = parse_timestamp(json_str(j, "timestamp"))) {
      rec_.ts_us = *ts;
      rec_.has_ts = true;
    }
    rec_.user = json_str(j, "user");
    rec_.database = json_str(j, "dbname");
    rec_.pid = to_int(json_str(j, "pid"));
    rec_.host = json_str(j, "remote_host");
    rec_.port = json_str(j, "remote_port");
    rec_.level = json_str(j, "error_severity");
    rec_.sqlstate = json_str(j, "state_code");
    rec_.message = json_str(j, "message");
    rec_.detail = json_str(j, "detail").substr(0, opts_.max_detail);
    rec_.application_name = json_str(j, "application_name");
  }
  void pgwarden(const nlohmann::json& j) {
    json_ts(j, &rec_);
    std::string ev = json_str(j, "event");
    std::string cause = json_str(j, "cause");
    rec_.message = cause.empty() ? ev : ev + " " + cause;
    rec_.detail = json_str(j, "message").substr(0, opts_.max_detail);
    rec_.sqlstate = json_str(j, "sqlstate");
    rec_.user = json_str(j, "user");
    rec_.database = json_str(j, "database");
    rec_.application_name = json_str(j, "application_name");
    rec_.host = json_str(j, "peer");
    rec_.pid = to_int(json_str(j, "backend_pid"));
    rec_.level = json_str(j, "severity");
  }
  void app(const nlohmann::json& j, std::string_view l) {
    json_ts(j, &rec_);
    for (const char* k : {"message", "msg", "errorMsg", "error"}) {
      rec_.message = json_str(j, k);
      if (!rec_.message.empty()) break;
    }
    rec_.level = json_str(j, "level");
    if (rec_.level.empty()) rec_.level = json_str(j, "severity");
    for (const char* k : {"application_name", "app", "service", "worker", "component", "name"}) {
      rec_.application_name = json_str(j, k);
      if (!rec_.application_name.empty()) break;
    }
    rec_.pid = to_int(json_str(j, "pid"));
    rec_.sqlstate = json_str(j, "sqlstate");
    rec_.line.assign(l);
  }
  void text_record(std::string_view l) {
    rec_.format = Format::Text;
    std::string_view t = l;
    size_t s = 0;
    while (s < t.size() && (t[s] == '[' || t[s] == ' ')) ++s;
    size_t used = 0;
    if (s < t.size()) {
      if (auto ts = parse_timestamp(t.substr(s), &used)) {
        rec_.ts_us = *ts;
        rec_.has_ts = true;
      }
    }
    rec_.message.assign(l);
    rec_.line.assign(l);
  }

 public:
  Format format_;
  ReaderOptions opts_;
  RecordSink sink_;
  BadInput* bad_;
  Record rec_;
  friend class TextReader;
};

class TextReader : public Reader {
 public:
  TextReader(const ReaderOptions& o, RecordSink sink, BadInput* bad)
      : inner_(Format::Text, o, std::move(sink), bad) {}
  void line(std::string_view l, uint64_t line_no) override {
    if (trim(l).empty()) return;
    inner_.rec_.clear();
    inner_.rec_.file_index = inner_.opts_.file_index;
    inner_.rec_.line_no = line_no;
    std::string_view t = trim(l);
    if (!t.empty() && t.front() == '{' && t.back() == '}') {
      inner_.format_ = Format::JsonLines;
      inner_.line(l, line_no);
      inner_.format_ = Format::Text;
      return;
    }
    inner_.text_record(l);
    inner_.sink_(inner_.rec_);
  }
  void finish() override {}

 private:
  JsonReader inner_;
};

// ------------------------------------------------------------------ PgBouncer
// 2026-08-20 10:15:02.123 UTC [123] LOG C-0x55d5: db/user@10.0.0.5:51234 closing because: client
// close request (age=0s)
class PgbouncerReader : public Reader {
 public:
  PgbouncerReader(const ReaderOptions& o, RecordSink sink, BadInput* bad)
      : opts_(o), sink_(std::move(sink)), bad_(bad) {}
  void line(std::string_view l, uint64_t line_no) override {
    std::string_view t = trim(l);
    if (t.empty()) return;
    rec_.clear();
    rec_.format = Format::Pgbouncer;
    rec_.file_index = opts_.file_index;
    rec_.line_no = line_no;
    size_t used = 0;
    auto ts = parse_timestamp(t, &used);
    if (!ts) {
      bad_->add("unparsed", l, opts_.file_name + ":" + std::to_string(line_no));
      return;
    }
    rec_.ts_us = *ts;
    rec_.has_ts = true;
    std::string_view rest = trim(t.substr(used));
    if (!rest.empty() && rest[0] == '[') {
      auto e = rest.find(']');
      if (e != std::string_view::npos) {
        rec_.pid = to_int(rest.substr(1, e - 1));
        rest = trim(rest.substr(e + 1));
      }
    }
    auto sp = rest.find(' ');
    rec_.level.assign(rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp + 1));
    // socket: "C-0x...: db/user@host:port "
    if (rest.size() > 2 && (rest[0] == 'C' || rest[0] == 'S') && rest[1] == '-') {
      auto colon = rest.find(": ");
      if (colon != std::string_view::npos) {
        rest = rest.substr(colon + 2);
        auto sp2 = rest.find(' ');
        std::string_view who = rest.substr(0, sp2);
        auto slash = who.find('/');
        auto at = who.rfind('@');
        if (slash != std::string_view::npos && at != std::string_view::npos && at > slash) {
          rec_.database.assign(who.substr(0, slash));
          rec_.user.assign(who.substr(slash + 1, at - slash - 1));
          std::string_view addr = who.substr(at + 1);
          auto pc = addr.rfind(':');
          rec_.host.assign(addr.substr(0, pc));
          if (pc != std::string_view::npos) rec_.port.assign(addr.substr(pc + 1));
          rest = sp2 == std::string_view::npos ? std::string_view{} : rest.substr(sp2 + 1);
        }
      }
    }
    rec_.message.assign(rest);
    sink_(rec_);
  }
  void finish() override {}

 private:
  ReaderOptions opts_;
  RecordSink sink_;
  BadInput* bad_;
  Record rec_;
};

bool looks_pgbouncer(std::string_view l) {
  size_t used = 0;
  if (!parse_timestamp(l, &used)) return false;
  std::string_view rest = trim(l.substr(used));
  if (rest.empty() || rest[0] != '[') return false;
  auto e = rest.find("] ");
  if (e == std::string_view::npos) return false;
  rest = rest.substr(e + 2);
  auto sp = rest.find(' ');
  if (sp == std::string_view::npos) return false;
  std::string_view lvl = rest.substr(0, sp);
  if (lvl != "LOG" && lvl != "WARNING" && lvl != "ERROR" && lvl != "FATAL" && lvl != "NOISE" &&
      lvl != "DEBUG")
    return false;
  rest = rest.substr(sp + 1);
  return (rest.size() > 3 && (rest[0] == 'C' || rest[0] == 'S') && rest[1] == '-') ||
         rest.starts_with("stats: ") || rest.starts_with("kernel file descriptor limit") ||
         rest.find("PgBouncer") != std::string_view::npos;
}
}  // namespace

// ------------------------------------------------------------------ shared helpers
std::string escape_sample(std::string_view s, size_t max) {
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      // keep a valid UTF-8 sequence
      size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      if (n && i + n <= s.size() && valid_utf8(s.substr(i, n))) {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
    ++i;
  }
  if (i < s.size()) out += "...";
  return out;
}

void BadInput::add(const std::string& reason, std::string_view sample, const std::string& where) {
  ++counts[reason];
  auto& ex = examples[reason];
  if (ex.size() < kMaxExamples) ex.push_back(where + ": " + escape_sample(sample));
}

void BadInput::merge(const BadInput& o) {
  for (const auto& [k, v] : o.counts) counts[k] += v;
  for (const auto& [k, v] : o.examples) {
    auto& ex = examples[k];
    for (const auto& e : v) {
      if (ex.size() < kMaxExamples) ex.push_back(e);
    }
  }
}

uint64_t BadInput::total() const {
  uint64_t t = 0;
  for (const auto& [k, v] : counts) t += v;
  return t;
}

Format detect_format(const std::vector<std::string>& sample) {
  size_t n = 0, jsonlog = 0, pgwarden = 0, jsonl = 0, csv = 0, bouncer = 0, stderr_ = 0;
  LinePrefix generic = LinePrefix::generic();
  for (const auto& raw : sample) {
    std::string_view l = trim(raw);
    if (l.empty()) continue;
    ++n;
    if (l.front() == '{') {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_object()) {
        if (j.contains("error_severity") && j.contains("timestamp"))
          ++jsonlog;
        else if (j.contains("event") && (j.contains("conn_id") || j.contains("cause")))
          ++pgwarden;
        else
          ++jsonl;
        continue;
      }
    }
    size_t used = 0;
    if (parse_timestamp(l, &used) && used < l.size() && l[used] == ',') {
      ++csv;
      continue;
    }
    if (looks_pgbouncer(l)) {
      ++bouncer;
      continue;
    }
    PrefixFields f;
    if (generic.match(strip_cloudwatch(l), &f)) ++stderr_;
  }
  if (n == 0) return Format::Stderr;
  struct C {
    size_t count;
    Format f;
  };
  C best{0, Format::Text};
  for (C c :
       {C{jsonlog, Format::Jsonlog}, C{pgwarden, Format::Pgwarden}, C{csv, Format::Csvlog},
        C{bouncer, Format::Pgbouncer}, C{stderr_, Format::Stderr}, C{jsonl, Format::JsonLines}}) {
    if (c.count > best.count) best = c;
  }
  // An app log with a few PostgreSQL-looking lines stays an app log.
  if (best.count * 3 < n) return Format::Text;
  return best.f;
}

std::unique_ptr<Reader> make_reader(Format f, const ReaderOptions& o, RecordSink sink,
                                    BadInput* bad) {
  switch (f) {
    case Format::Csvlog:
      return std::make_unique<CsvReader>(o, std::move(sink), bad);
    case Format::Jsonlog:
    case Format::Pgwarden:
    case Format::JsonLines:
      return std::make_unique<JsonReader>(f, o, std::move(sink), bad);
    case Format::Pgbouncer:
      return std::make_unique<PgbouncerReader>(o, std::move(sink), bad);
    case Format::Text:
      return std::make_unique<TextReader>(o, std::move(sink), bad);
    default:
      return std::make_unique<StderrReader>(o, std::move(sink), bad);
  }
}

// ------------------------------------------------------------------ LineSplitter
LineSplitter::LineSplitter(LineFn fn, BadInput* bad, std::string file_name, size_t max_line)
    : fn_(std::move(fn)), bad_(bad), file_(std::move(file_name)), max_line_(max_line) {}

void LineSplitter::emit(std::string_view l) {
  ++line_no_;
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  bool nul = false, ascii = true;
  scan_line(l, &nul, &ascii);
  if (nul) {
    bad_->add("binary", l, file_ + ":" + std::to_string(line_no_));
    return;
  }
  if (!ascii && !valid_utf8(l)) {
    // Kept (a Latin-1 application_name is still a useful line); escaped on output.
    bad_->add("invalid_utf8", l, file_ + ":" + std::to_string(line_no_));
  }
  fn_(l, line_no_);
}

void LineSplitter::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const char* nl = static_cast<const char*>(std::memchr(chunk.data(), '\n', chunk.size()));
    size_t len = nl ? static_cast<size_t>(nl - chunk.data()) : chunk.size();
    std::string_view piece = chunk.substr(0, len);
    if (skipping_) {
      if (nl) skipping_ = false;
    } else if (partial_.empty() && nl) {
      if (piece.size() > max_line_) {
        bad_->add("too_long", piece.substr(0, 200), file_ + ":" + std::to_string(line_no_ + 1));
        emit(piece.substr(0, max_line_));
      } else {
        emit(piece);
      }
    } else {
      size_t room = max_line_ - std::min(max_line_, partial_.size());
      partial_.append(piece.substr(0, room));
      if (piece.size() > room) {
        bad_->add("too_long", std::string_view(partial_).substr(0, 200),
                  file_ + ":" + std::to_string(line_no_ + 1));
        emit(partial_);
        partial_.clear();
        skipping_ = !nl;
      } else if (nl) {
        emit(partial_);
        partial_.clear();
      }
    }
    if (!nl) break;
    chunk.remove_prefix(len + 1);
  }
}

void LineSplitter::finish() {
  if (!partial_.empty()) {
    emit(partial_);
    partial_.clear();
  }
  skipping_ = false;
}

}  // namespace pgw::logs
