#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "pgwarden/logs/capture.hpp"
#include "pgwarden/logs/output.hpp"
#include "pgwarden/logs/run.hpp"

namespace pgw::logs {

namespace {
constexpr size_t kChunk = 128 << 10;

struct Progress {
  bool enabled = false;
  uint64_t total = 0;
  std::atomic<uint64_t> done{0};
  std::mutex mu;
  uint64_t last_shown = 0;
  void add(uint64_t n) {
    if (!enabled) return;
    uint64_t d = done += n;
    if (d - last_shown < (16u << 20) && d < total) return;
    std::lock_guard<std::mutex> lock(mu);
    last_shown = d;
    int pct = total ? static_cast<int>(d * 100 / total) : 0;
    int bars = pct / 4;
    std::fprintf(stderr, "\r[%-25.*s] %3d%% %llu MB", bars, "#########################", pct,
                 static_cast<unsigned long long>(d >> 20));
  }
  void end() {
    if (enabled) std::fprintf(stderr, "\r%60s\r", "");
  }
};

std::vector<std::string> expand_inputs(const std::vector<std::string>& in, std::ostream& err,
                                       bool* failed) {
  std::vector<std::string> out;
  for (const auto& p : in) {
    struct stat st {};
    if (p == "-" || ::stat(p.c_str(), &st) == 0 || p.find_first_of("*?[") == std::string::npos) {
      out.push_back(p);
      continue;
    }
    glob_t g{};
    if (::glob(p.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    } else {
      err << "pgwarden logs: no file matches " << p << "\n";
      *failed = true;
    }
    ::globfree(&g);
  }
  return out;
}

std::string base_name(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// Reads one input (plain or gzip; "-" = stdin) into the analyzer.
bool analyse_input(const std::string& path, const Options& opts, Analyzer& an, Progress& prog,
                   std::string* error) {
  int64_t fallback = opts.analyzer.assume_start_us;
  struct stat st {};
  bool is_stdin = path == "-";
  if (!is_stdin && ::stat(path.c_str(), &st) == 0 && fallback == 0)
    fallback = static_cast<int64_t>(st.st_mtime) * 1000000;
  // Plain files are read with read(2); gzip files (magic 1f 8b) and stdin through zlib.
  int fd = is_stdin ? ::dup(0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string name = is_stdin ? "(stdin)" : path;
  gzFile gz = nullptr;
  bool opened = fd >= 0;
  unsigned char magic[2] = {0, 0};
  if (opened &&
      (is_stdin || (::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b))) {
    gz = gzdopen(fd, "rb");  // owns fd from now on
    if (!gz) {
      ::close(fd);
      opened = false;
    }
    fd = -1;
  }
  if (!opened) {
    *error = "cannot open " + path;
    uint32_t fi = an.begin_file(name, opts.format, fallback);
    an.set_error(fi, *error);
    return false;
  }
  if (gz) gzbuffer(gz, 256 * 1024);
  auto read_some = [&](char* p, size_t cap) -> long {
    if (gz) return gzread(gz, p, static_cast<unsigned>(cap));
    ssize_t r;
    do {
      r = ::read(fd, p, cap);
    } while (r < 0 && errno == EINTR);
    return static_cast<long>(r);
  };
  auto read_error = [&]() -> std::string {
    if (gz) {
      int code = 0;
      return gzerror(gz, &code);
    }
    return std::strerror(errno);
  };
  auto close_input = [&]() {
    if (gz) gzclose(gz);
    if (fd >= 0) ::close(fd);
  };
  std::string buf(kChunk, '\0');
  long n = read_some(buf.data(), buf.size());
  if (n < 0) {
    *error = std::string("cannot read ") + path + ": " + read_error();
    close_input();
    uint32_t fi = an.begin_file(name, opts.format, fallback);
    an.set_error(fi, *error);
    return false;
  }
  std::string_view first(buf.data(), static_cast<size_t>(n));
  Format fmt = opts.format;
  InputKind kind{fmt, Capture::None};
  if (fmt == Format::Auto) {
    std::vector<std::string> sample;
    size_t pos = 0;
    while (pos < first.size() && sample.size() < 200) {
      size_t e = first.find('\n', pos);
      if (e == std::string_view::npos) e = first.size();
      sample.emplace_back(first.substr(pos, std::min<size_t>(e - pos, 4096)));
      pos = e + 1;
    }
    kind = detect_input(sample);
    fmt = kind.format;
  }
  uint32_t fi = an.begin_file(name, fmt, fallback);
  if (is_stdin && fallback == 0) an.stamp_on_arrival(fi);
  if (kind.capture != Capture::None) an.set_capture(fi, std::string(capture_name(kind.capture)));
  ReaderOptions ro;
  ro.file_index = fi;
  ro.file_name = base_name(name);
  ro.prefix = opts.prefix;
  uint64_t skipped = 0;
  ro.prefilter = &an.rules();
  ro.skipped = &skipped;
  auto reader = make_input_reader(
      kind, ro, [&](Record& r) { an.add(r); }, &an.bad());
  LineSplitter split([&](std::string_view l, uint64_t no) { reader->line(l, no); }, &an.bad(),
                     ro.file_name);
  uint64_t bytes = 0;
  bool ok = true;
  while (n > 0) {
    bytes += static_cast<uint64_t>(n);
    split.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    prog.add(static_cast<uint64_t>(n));
    n = read_some(buf.data(), buf.size());
  }
  if (n < 0) {
    *error = std::string("read error in ") + path + ": " + read_error();
    an.set_error(fi, *error);
    ok = false;
  }
  split.finish();
  reader->finish();
  close_input();
  an.add_bytes(fi, bytes, split.lines());
  an.add_skipped(fi, skipped);
  if (fmt == Format::Stderr) an.set_prefix(fi, reader->prefix_used());
  return ok;
}

bool build_rules(const Options& opts, RulePack* pack, std::ostream& err) {
  try {
    if (!opts.no_builtin_rules) pack->load_toml(RulePack::builtin_toml(), "builtin.toml");
    for (const auto& f : opts.rule_files) {
      std::ifstream in(f);
      if (!in) {
        err << "pgwarden logs: cannot read rule file " << f << "\n";
        return false;
      }
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      RulePack user;
      user.load_toml(text, f);
      pack->merge(std::move(user));
    }
    pack->finalize();
  } catch (const std::exception& e) {
    err << "pgwarden logs: " << e.what() << "\n";
    return false;
  }
  return true;
}

int follow(const Options& opts, const std::vector<std::string>& inputs, const RulePack& rules,
           std::ostream& out, std::ostream& err) {
  Analyzer an(rules, opts.analyzer);
  std::string line_out;
  an.on_event = [&](const Event& e) {
    line_out.clear();
    append_event_json(line_out, e);
    out << line_out;
  };
  struct Tail {
    std::string path;
    std::FILE* f = nullptr;
    long offset = 0;
    std::unique_ptr<Reader> reader;
    std::unique_ptr<LineSplitter> split;
    uint32_t fi = 0;
  };
  std::vector<Tail> tails;
  for (const auto& p : inputs) {
    Tail t;
    t.path = p;
    t.f = std::fopen(p.c_str(), "rb");
    if (!t.f) {
      err << "pgwarden logs: cannot open " << p << "\n";
      for (auto& x : tails) std::fclose(x.f);
      return kExitError;
    }
    if (!opts.from_start) {
      std::fseek(t.f, 0, SEEK_END);
      t.offset = std::ftell(t.f);
    }
    InputKind kind{opts.format == Format::Auto ? Format::Stderr : opts.format, Capture::None};
    if (opts.format == Format::Auto) {
      // detect from what the file holds now (its head)
      std::ifstream head(p);
      std::vector<std::string> sample;
      std::string l;
      while (sample.size() < 200 && std::getline(head, l)) sample.push_back(l);
      if (!sample.empty()) kind = detect_input(sample);
    }
    t.fi = an.begin_file(p, kind.format,
                         opts.analyzer.assume_start_us ? opts.analyzer.assume_start_us : 0);
    if (kind.capture != Capture::None)
      an.set_capture(t.fi, std::string(capture_name(kind.capture)));
    if (!opts.analyzer.assume_start_us) an.stamp_on_arrival(t.fi);
    ReaderOptions ro;
    ro.file_index = t.fi;
    ro.file_name = base_name(p);
    ro.prefix = opts.prefix;
    ro.prefilter = &rules;
    t.reader = make_input_reader(
        kind, ro, [&an](Record& r) { an.add(r); }, &an.bad());
    Reader* rd = t.reader.get();
    t.split = std::make_unique<LineSplitter>(
        [rd](std::string_view l, uint64_t no) { rd->line(l, no); }, &an.bad(), ro.file_name);
    tails.push_back(std::move(t));
  }
  auto last_data = std::chrono::steady_clock::now();
  bool flushed = true;
  std::string buf(kChunk, '\0');
  while (true) {
    bool got = false;
    for (auto& t : tails) {
      struct stat st {};
      if (::stat(t.path.c_str(), &st) == 0 && st.st_size < t.offset) {
        // truncated or rotated: start again from the beginning
        std::fclose(t.f);
        t.f = std::fopen(t.path.c_str(), "rb");
        t.offset = 0;
        if (!t.f) continue;
      }
      std::clearerr(t.f);
      std::fseek(t.f, t.offset, SEEK_SET);
      size_t n;
      while ((n = std::fread(buf.data(), 1, buf.size(), t.f)) > 0) {
        t.split->feed(std::string_view(buf.data(), n));
        t.offset += static_cast<long>(n);
        got = true;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (got) {
      last_data = now;
      flushed = false;
      out.flush();
    } else {
      double idle = std::chrono::duration<double>(now - last_data).count();
      if (!flushed && idle > 0.5) {
        for (auto& t : tails) t.reader->finish();  // emit a pending multi-line entry
        out.flush();
        flushed = true;
      }
      if (opts.max_idle_s > 0 && idle >= opts.max_idle_s) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (auto& t : tails) {
    t.split->finish();
    t.reader->finish();
    std::fclose(t.f);
  }
  out.flush();
  return an.failures() > 0 ? kExitFindings : kExitOk;
}
}  // namespace

int run(const Options& opts_in, std::ostream& out_default, std::ostream& err) {
  Options opts = opts_in;
  if (!opts.assume_start.empty()) {
    auto ts = parse_timestamp(opts.assume_start);
    if (!ts) {
      err << "pgwarden logs: --assume-start: not a timestamp: " << opts.assume_start << "\n";
      return kExitError;
    }
    opts.analyzer.assume_start_us = *ts;
  }
  if (opts.dump_rules) {
    out_default << RulePack::builtin_toml();
    return kExitOk;
  }
  RulePack rules;
  if (!build_rules(opts, &rules, err)) return kExitError;
  std::ofstream file_out;
  std::ostream* outp = &out_default;
  if (!opts.out_file.empty() && opts.out_file != "-") {
    file_out.open(opts.out_file, std::ios::binary);
    if (!file_out) {
      err << "pgwarden logs: cannot write " << opts.out_file << "\n";
      return kExitError;
    }
    outp = &file_out;
  }
  std::ostream& out = *outp;
  if (opts.list_classes) {
    for (const auto& r : rules.rules()) {
      out << r.cls << "\t" << r.severity << "\t" << source_name(r.source) << "\t" << r.meaning
          << "\n";
    }
    return kExitOk;
  }
  if (opts.inputs.empty()) {
    err << "pgwarden logs: no input files (use - for stdin)\n";
    return kExitError;
  }
  bool failed = false;
  auto inputs = expand_inputs(opts.inputs, err, &failed);
  if (opts.follow) {
    for (const auto& p : inputs) {
      if (p == "-") {
        err << "pgwarden logs: --follow needs files, not stdin\n";
        return kExitError;
      }
    }
    return follow(opts, inputs, rules, out, err);
  }

  auto t0 = std::chrono::steady_clock::now();
  Progress prog;
  bool tty = ::isatty(2) != 0;
  prog.enabled = opts.progress == "always" || (opts.progress == "auto" && tty);
  for (const auto& p : inputs) {
    struct stat st {};
    if (p != "-" && ::stat(p.c_str(), &st) == 0) prog.total += static_cast<uint64_t>(st.st_size);
  }
  if (prog.total < (64u << 20) && opts.progress != "always") prog.enabled = false;

  Analyzer an(rules, opts.analyzer);
  std::string events_buf;
  if (opts.output == "events") {
    an.on_event = [&](const Event& e) {
      append_event_json(events_buf, e);
      if (events_buf.size() > (1 << 16)) {
        out << events_buf;
        events_buf.clear();
      }
    };
  }
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  size_t jobs = opts.jobs > 0 ? static_cast<size_t>(opts.jobs) : hw;
  jobs = std::min(jobs, inputs.size());
  if (opts.output == "events" || jobs <= 1) {
    for (const auto& p : inputs) {
      std::string e;
      if (!analyse_input(p, opts, an, prog, &e)) {
        err << "pgwarden logs: " << e << "\n";
        failed = true;
      }
    }
  } else {
    // One analyzer per file, on a small pool of threads; merged in input order.
    std::vector<std::unique_ptr<Analyzer>> parts(inputs.size());
    std::vector<std::string> errors(inputs.size());
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (size_t t = 0; t < jobs; ++t) {
      pool.emplace_back([&]() {
        for (size_t i; (i = next++) < inputs.size();) {
          parts[i] = std::make_unique<Analyzer>(rules, opts.analyzer);
          analyse_input(inputs[i], opts, *parts[i], prog, &errors[i]);
        }
      });
    }
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!errors[i].empty()) {
        err << "pgwarden logs: " << errors[i] << "\n";
        failed = true;
      }
      an.merge(std::move(*parts[i]));
    }
  }
  prog.end();
  if (!events_buf.empty()) out << events_buf;
  RunInfo info;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (opts.output == "summary")
    write_summary(out, an, info);
  else if (opts.output == "json")
    write_json(out, an, info);
  else if (opts.output == "html")
    write_html(out, an, info);
  out.flush();
  if (failed) return kExitError;
  return an.failures() > 0 ? kExitFindings : kExitOk;
}

}  // namespace pgw::logs
