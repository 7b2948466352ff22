#pragma once
// Helpers shared by the unit tests of src/logs: the built-in rule pack, a
// reader run over a string, and one-record classification.
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/logs/readers.hpp"
#include "pgwarden/logs/rules.hpp"

namespace pgw::logs::unit {

inline const RulePack& builtin() {
  static RulePack* p = [] {
    auto* r = new RulePack;
    r->load_toml(RulePack::builtin_toml(), "builtin.toml");
    r->finalize();
    return r;
  }();
  return *p;
}

// Feeds text through a reader and collects the records.
inline std::vector<Record> read_all(Format f, const std::string& text, BadInput* bad,
                                    std::optional<std::string> prefix = std::nullopt) {
  std::vector<Record> out;
  ReaderOptions o;
  o.file_name = "t.log";
  o.prefix = std::move(prefix);
  auto r = make_reader(
      f, o, [&](Record& rec) { out.push_back(rec); }, bad);
  LineSplitter split([&](std::string_view l, uint64_t n) { r->line(l, n); }, bad, "t.log", 4096);
  split.feed(text);
  split.finish();
  r->finish();
  return out;
}

inline std::string classify(Source src, const std::string& level, const std::string& message,
                            const std::string& detail = "") {
  Record r;
  r.level = level;
  r.message = message;
  r.detail = detail;
  if (src == Source::App) r.line = message;
  Captures caps;
  int i = builtin().classify(r, src, &caps);
  return i < 0 ? std::string("-") : builtin().rule(i).cls;
}

}  // namespace pgw::logs::unit
