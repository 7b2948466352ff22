// `pgwarden logs` end to end minus the files: the input as a log file, split
// into lines and read by every format's reader (stderr with its prefix
// detection, csvlog, jsonlog, pgwarden events, JSON lines, text, PgBouncer),
// each record classified by the built-in rule pack and analysed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/logs/analysis.hpp"
#include "pgwarden/logs/readers.hpp"
#include "pgwarden/logs/rules.hpp"

using namespace pgw::logs;

namespace {
const RulePack& rules() {
  static const RulePack pack = [] {
    RulePack p;
    p.load_toml(RulePack::builtin_toml(), "builtin.toml");
    p.finalize();
    return p;
  }();
  return pack;
}

void read_as(Format fmt, std::string_view in) {
  Analyzer an(rules(), AnalyzerOptions{});
  ReaderOptions ro;
  ro.file_name = "fuzz.log";
  ro.file_index = an.begin_file(ro.file_name, fmt, 0);
  uint64_t skipped = 0;
  ro.prefilter = &an.rules();
  ro.skipped = &skipped;
  auto reader = make_reader(
      fmt, ro, [&](Record& r) { an.add(r); }, &an.bad());
  // A small line cap, and two chunks split mid-line, as reads deliver them.
  LineSplitter split([&](std::string_view l, uint64_t no) { reader->line(l, no); }, &an.bad(),
                     ro.file_name, 4096);
  split.feed(in.substr(0, in.size() / 2));
  split.feed(in.substr(in.size() / 2));
  split.finish();
  reader->finish();
  an.incidents();
  an.session_clusters();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sample;
  for (size_t pos = 0; pos < in.size() && sample.size() < 200;) {
    size_t e = in.find('\n', pos);
    if (e == in.npos) e = in.size();
    sample.emplace_back(in.substr(pos, e - pos));
    pos = e + 1;
  }
  detect_format(sample);
  for (Format f : {Format::Stderr, Format::Csvlog, Format::Jsonlog, Format::Pgwarden,
                   Format::JsonLines, Format::Text, Format::Pgbouncer})
    read_as(f, in);
  return 0;
}
