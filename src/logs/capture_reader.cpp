// The reader behind a capture prefix: strips it from each line before the
// app's own reader sees the line, and stamps the record read from that line
// with the capture time when the app wrote none.
#include <map>

#include "pgwarden/logs/capture.hpp"

namespace pgw::logs {

namespace {

class CapturedReader : public Reader {
 public:
  CapturedReader(Capture capture, Format inner, const ReaderOptions& o, RecordSink sink,
                 BadInput* bad)
      : capture_(capture), sink_(std::move(sink)) {
    inner_ = make_reader(
        inner, o, [this](Record& r) { stamp_and_deliver(r); }, bad);
  }
  void line(std::string_view l, uint64_t line_no) override {
    auto captured = strip_capture(capture_, l);
    if (!captured) {
      inner_->line(l, line_no);
      return;
    }
    if (captured->ts_us) times_[line_no] = *captured->ts_us;
    inner_->line(captured->line, line_no);
  }
  void finish() override { inner_->finish(); }
  std::string prefix_used() const override { return inner_->prefix_used(); }

 private:
  void stamp_and_deliver(Record& r) {
    auto it = times_.find(r.line_no);
    if (!r.has_ts && it != times_.end()) {
      r.ts_us = it->second;
      r.has_ts = true;
    }
    // Records come in line order: the times of earlier lines are done with.
    times_.erase(times_.begin(), times_.upper_bound(r.line_no));
    sink_(r);
  }

  Capture capture_;
  RecordSink sink_;
  std::unique_ptr<Reader> inner_;
  std::map<uint64_t, int64_t> times_;  // line number -> capture time
};

}  // namespace

InputKind detect_input(const std::vector<std::string>& sample) {
  InputKind kind;
  kind.capture = detect_capture(sample);
  if (kind.capture == Capture::None) {
    kind.format = detect_format(sample);
    return kind;
  }
  std::vector<std::string> lines;
  lines.reserve(sample.size());
  for (const auto& l : sample) {
    auto captured = strip_capture(kind.capture, l);
    lines.push_back(captured ? std::move(captured->line) : l);
  }
  kind.format = detect_format(lines);
  // A PostgreSQL log behind a CloudWatch export time (RDS) carries its own
  // times, and the stderr reader already skips that prefix: read it as before.
  if (kind.capture == Capture::Rfc3339 && kind.format == Format::Stderr) {
    kind.capture = Capture::None;
  }
  return kind;
}

std::unique_ptr<Reader> make_input_reader(const InputKind& kind, const ReaderOptions& o,
                                          RecordSink sink, BadInput* bad) {
  if (kind.capture == Capture::None) return make_reader(kind.format, o, std::move(sink), bad);
  return std::make_unique<CapturedReader>(kind.capture, kind.format, o, std::move(sink), bad);
}

}  // namespace pgw::logs
