#include "pgwarden/logs/capture.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "pgwarden/logs/record.hpp"

namespace pgw::logs {

namespace {

constexpr double kMinCaptureShare = 0.8;

struct LeadingTime {
  int64_t ts_us;
  bool utc_z;             // ended in 'Z' (docker, kubectl) rather than an offset
  std::string_view rest;  // after the single space that follows it
};

// An RFC 3339 time with 'T' at the start of the line, then a space.
std::optional<LeadingTime> leading_time(std::string_view s) {
  if (s.size() < 21 || s[10] != 'T') return std::nullopt;
  size_t used = 0;
  auto ts = parse_timestamp(s, &used);
  if (!ts || used >= s.size() || s[used] != ' ') return std::nullopt;
  return LeadingTime{*ts, s[used - 1] == 'Z', s.substr(used + 1)};
}

std::string_view next_token(std::string_view& s) {
  size_t sp = s.find(' ');
  std::string_view token = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return token;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "host ident[pid]: message" (journald's syslog-style line after its time).
// `need_pid`: only "ident[pid]" counts, the form every process's line has;
// detection needs it, so that "stream TypeError: …" is not taken for one.
std::optional<std::string_view> journald_message(std::string_view rest, bool need_pid) {
  if (next_token(rest).empty()) return std::nullopt;  // host
  size_t colon = rest.find(": ");
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view ident = rest.substr(0, colon);
  if (ident.find(' ') != std::string_view::npos) return std::nullopt;
  size_t open = ident.find('[');
  bool with_pid = open != std::string_view::npos && ident.back() == ']' &&
                  all_digits(ident.substr(open + 1, ident.size() - open - 2));
  if (need_pid && !with_pid) return std::nullopt;
  return rest.substr(colon + 2);
}

std::optional<CapturedLine> from_json(Capture c, std::string_view raw) {
  if (raw.empty() || raw.front() != '{') return std::nullopt;
  auto j = nlohmann::json::parse(raw, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  if (c == Capture::JournaldJson) {
    auto ts = j.find("__REALTIME_TIMESTAMP");
    auto msg = j.find("MESSAGE");
    if (ts == j.end() || msg == j.end() || !ts->is_string() || !msg->is_string())
      return std::nullopt;
    const auto& us = ts->get_ref<const std::string&>();
    if (!all_digits(us) || us.size() > 17) return std::nullopt;
    return CapturedLine{msg->get<std::string>(), std::stoll(us)};
  }
  auto ts = j.find("timestamp");
  auto msg = j.find("message");
  bool cloudwatch =
      j.contains("ingestionTime") || j.contains("logStreamName") || j.contains("eventId");
  if (!cloudwatch || ts == j.end() || msg == j.end() || !ts->is_number_integer() ||
      !msg->is_string())
    return std::nullopt;
  std::string line = msg->get<std::string>();
  // CloudWatch keeps the trailing newline the app wrote.
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return CapturedLine{std::move(line), ts->get<int64_t>() * 1000};  // ms since the epoch
}

Capture kind_of(std::string_view raw) {
  if (!raw.empty() && raw.front() == '{') {
    if (from_json(Capture::JournaldJson, raw)) return Capture::JournaldJson;
    if (from_json(Capture::CloudWatchJson, raw)) return Capture::CloudWatchJson;
    return Capture::None;
  }
  auto t = leading_time(raw);
  if (!t) return Capture::None;
  if (t->utc_z) return Capture::Rfc3339;
  if (journald_message(t->rest, true)) return Capture::JournaldShortIso;
  std::string_view rest = t->rest;
  if (!next_token(rest).empty() && !rest.empty()) return Capture::CloudWatchTail;
  return Capture::None;
}

}  // namespace

std::string_view capture_name(Capture c) {
  switch (c) {
    case Capture::Rfc3339:
      return "rfc3339";
    case Capture::JournaldShortIso:
      return "journald";
    case Capture::JournaldJson:
      return "journald-json";
    case Capture::CloudWatchTail:
      return "cloudwatch-tail";
    case Capture::CloudWatchJson:
      return "cloudwatch-json";
    case Capture::None:
      break;
  }
  return "none";
}

Capture detect_capture(const std::vector<std::string>& sample) {
  std::map<Capture, size_t> counts;
  size_t lines = 0;
  for (const auto& l : sample) {
    if (l.empty()) continue;
    ++lines;
    ++counts[kind_of(l)];
  }
  for (const auto& [kind, n] : counts) {
    if (kind != Capture::None &&
        static_cast<double>(n) >= kMinCaptureShare * static_cast<double>(lines))
      return kind;
  }
  return Capture::None;
}

std::optional<CapturedLine> strip_capture(Capture c, std::string_view raw) {
  switch (c) {
    case Capture::JournaldJson:
    case Capture::CloudWatchJson:
      return from_json(c, raw);
    case Capture::None:
      return std::nullopt;
    default:
      break;
  }
  auto t = leading_time(raw);
  if (!t) return std::nullopt;
  std::string_view line = t->rest;
  if (c == Capture::JournaldShortIso) {
    auto msg = journald_message(t->rest, false);
    if (!msg) return std::nullopt;
    line = *msg;
  } else if (c == Capture::CloudWatchTail) {
    next_token(line);  // the log stream's name
  }
  return CapturedLine{std::string(line), t->ts_us};
}

}  // namespace pgw::logs
