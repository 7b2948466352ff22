#include <array>
#include <cstdio>

#include "pgwarden/logs/record.hpp"

namespace pgw::logs {

std::string_view format_name(Format f) {
  switch (f) {
    case Format::Auto:
      return "auto";
    case Format::Stderr:
      return "stderr";
    case Format::Csvlog:
      return "csvlog";
    case Format::Jsonlog:
      return "jsonlog";
    case Format::Pgbouncer:
      return "pgbouncer";
    case Format::Pgwarden:
      return "pgwarden";
    case Format::JsonLines:
      return "json-lines";
    case Format::Text:
      return "text";
  }
  return "auto";
}

std::optional<Format> parse_format(std::string_view s) {
  for (Format f : {Format::Auto, Format::Stderr, Format::Csvlog, Format::Jsonlog, Format::Pgbouncer,
                   Format::Pgwarden, Format::JsonLines, Format::Text}) {
    if (format_name(f) == s) return f;
  }
  if (s == "csv") return Format::Csvlog;
  if (s == "json") return Format::JsonLines;
  return std::nullopt;
}

std::string_view source_kind(Format f) {
  switch (f) {
    case Format::Stderr:
    case Format::Csvlog:
    case Format::Jsonlog:
      return "postgres";
    case Format::Pgbouncer:
      return "pgbouncer";
    case Format::Pgwarden:
      return "pgwarden";
    default:
      return "app";
  }
}

void Record::clear() {
  ts_us = 0;
  has_ts = false;
  pid = 0;
  level.clear();
  sqlstate.clear();
  message.clear();
  detail.clear();
  line.clear();
  user.clear();
  database.clear();
  application_name.clear();
  host.clear();
  port.clear();
  line_no = 0;
}

namespace {
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}
struct Zone {
  std::string_view name;
  int minutes;
};
constexpr std::array<Zone, 22> kZones{
    {{"UTC", 0},    {"GMT", 0},    {"UT", 0},     {"Z", 0},      {"EST", -300}, {"EDT", -240},
     {"CST", -360}, {"CDT", -300}, {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420},
     {"CET", 60},   {"CEST", 120}, {"EET", 120},  {"EEST", 180}, {"WET", 0},    {"WEST", 60},
     {"BST", 60},   {"JST", 540},  {"AEST", 600}, {"AEDT", 660}}};
}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view s, size_t* used) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') ||
      !digits(s, 11, 2, &h) || s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' ||
      !digits(s, 17, 2, &se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  // Consecutive log lines share the date: remember the last day computed.
  thread_local int last_ymd = -1;
  thread_local int64_t last_days = 0;
  int ymd = (y * 100 + mo) * 100 + d;
  size_t p = 19;
  int64_t frac_us = 0;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
    ++p;
    int64_t scale = 100000;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      frac_us += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
  }
  int offset_min = 0;
  auto parse_num_offset = [&](size_t q) -> bool {
    // [+-]HH[:MM|MM]
    int oh = 0, om = 0;
    if (q >= s.size() || (s[q] != '+' && s[q] != '-')) return false;
    int sign = s[q] == '-' ? -1 : 1;
    if (!digits(s, q + 1, 2, &oh)) return false;
    size_t e = q + 3;
    if (e < s.size() && s[e] == ':' && digits(s, e + 1, 2, &om)) {
      e += 3;
    } else if (digits(s, e, 2, &om)) {
      e += 2;
    }
    offset_min = sign * (oh * 60 + om);
    p = e;
    return true;
  };
  if (p < s.size()) {
    if (s[p] == 'Z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      parse_num_offset(p);
    } else if (s[p] == ' ' && p + 1 < s.size()) {
      if (s[p + 1] == '+' || s[p + 1] == '-') {
        parse_num_offset(p + 1);
      } else {
        size_t e = p + 1;
        while (e < s.size() && e - p <= 6 && s[e] >= 'A' && s[e] <= 'Z') ++e;
        if (e > p + 1 && (e == s.size() || !(s[e] >= 'a' && s[e] <= 'z'))) {
          std::string_view z = s.substr(p + 1, e - p - 1);
          if (z != "UTC") {
            for (const auto& zone : kZones) {
              if (z == zone.name) {
                offset_min = zone.minutes;
                break;
              }
            }
          }
          p = e;
        }
      }
    }
  }
  if (used) *used = p;
  if (ymd != last_ymd) {
    last_days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    last_ymd = ymd;
  }
  int64_t days = last_days;
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000000 + frac_us;
}

std::optional<int64_t> parse_session_time(std::string_view s) {
  // H:MM:SS.mmm
  int64_t h = 0;
  size_t p = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
    h = h * 10 + (s[p++] - '0');
    if (h > (int64_t{1} << 40)) return std::nullopt;  // no session lasts that long; no overflow
  }
  int mi, se, ms = 0;
  if (p == 0 || p >= s.size() || s[p] != ':' || !digits(s, p + 1, 2, &mi) || s.size() < p + 6 ||
      s[p + 3] != ':' || !digits(s, p + 4, 2, &se))
    return std::nullopt;
  p += 6;
  if (p < s.size() && s[p] == '.') digits(s, p + 1, 3, &ms);
  return ((h * 60 + mi) * 60 + se) * 1000 + ms;
}

}  // namespace pgw::logs
