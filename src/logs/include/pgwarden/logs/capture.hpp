#pragma once
// What the tools that capture an app's output add to each line: apps such as
// zero-cache log without timestamps, and the capture tool's time is then the
// only one a line has. Recognised from a file's first lines, stripped before
// the line is read, its time kept for a record that has none of its own.
// See docs/logs.md ("Capture prefixes").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/logs/readers.hpp"

namespace pgw::logs {

enum class Capture {
  None,
  // "2026-12-02T16:21:35.123456789Z line": docker logs -t, kubectl logs
  // --timestamps, a CloudWatch console copy.
  Rfc3339,
  // "2026-12-02T16:21:35+0000 host ident[pid]: line": journalctl -o short-iso
  // (and short-iso-precise).
  JournaldShortIso,
  // {"__REALTIME_TIMESTAMP":"…","MESSAGE":"line",…}: journalctl -o json.
  JournaldJson,
  // "2026-12-02T16:21:35.123000+00:00 stream line": aws logs tail.
  CloudWatchTail,
  // {"timestamp":1764692495123,"message":"line",…}: CloudWatch log events as
  // JSON lines (aws logs get-log-events / filter-log-events, one per line).
  CloudWatchJson,
};

std::string_view capture_name(Capture c);

// The capture most of the sample's non-empty lines carry (None if fewer than
// 80 % carry one kind).
Capture detect_capture(const std::vector<std::string>& sample);

struct CapturedLine {
  std::string line;  // the app's own line
  std::optional<int64_t> ts_us;
};
// The app's line and the capture time, or nullopt if `raw` does not carry
// capture `c` (such lines are read as they are).
std::optional<CapturedLine> strip_capture(Capture c, std::string_view raw);

// A file's capture and the format of the app's lines beneath it.
struct InputKind {
  Format format = Format::Stderr;
  Capture capture = Capture::None;
};
InputKind detect_input(const std::vector<std::string>& sample);

// make_reader() for the app's lines, behind a reader that strips the capture
// prefix and gives its time to a record that has none of its own.
std::unique_ptr<Reader> make_input_reader(const InputKind& kind, const ReaderOptions& o,
                                          RecordSink sink, BadInput* bad);

}  // namespace pgw::logs
