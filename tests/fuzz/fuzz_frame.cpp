// The typed-message codec: a byte stream split by next_frame, every frame body
// handed to each body parser, and what parses rebuilt and parsed again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pgwarden/wire/codec.hpp"

using namespace pgw::wire;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void parse_body(std::string_view body) {
  ErrorFields e;
  parse_error_fields(body, e);

  std::string_view key, value;
  if (parse_parameter_status(body, key, value)) {
    std::string out;
    parameter_status(out, key, value);
    Frame f;
    std::string_view k2, v2;
    check(next_frame(out, UINT32_MAX, f) == FrameStatus::ok);
    check(parse_parameter_status(f.body, k2, v2) && k2 == key && v2 == value);
  }

  uint32_t code = 0, pid = 0, secret = 0;
  std::string_view data;
  if (parse_auth_request(body, code, data)) check(data.size() + 4 == body.size());
  parse_backend_key_data(body, pid, secret);
  // Never more columns than the count word promises.
  if (body.size() >= 2) check(parse_data_row(body).size() <= read_u16(body.data()));

  ParseView p;
  if (parse_parse(body, p)) {
    // The statement is renamed by rebuilding with the rest verbatim.
    std::string out;
    parse(out, "s1", p.rest);
    Frame f;
    ParseView again;
    check(next_frame(out, UINT32_MAX, f) == FrameStatus::ok);
    check(parse_parse(f.body, again) && again.name == "s1" && again.rest == p.rest);
  }

  BindView b;
  if (parse_bind(body, b)) {
    std::string out;
    bind(out, b.portal, "s1", b.after_stmt);
    Frame f;
    BindView again;
    check(next_frame(out, UINT32_MAX, f) == FrameStatus::ok);
    check(parse_bind(f.body, again) && again.portal == b.portal && again.statement == "s1" &&
          again.after_stmt == b.after_stmt);
  }

  char kind = 0;
  std::string_view name;
  if (parse_target(body, kind, name)) {
    std::string out;
    describe(out, kind, name);
    Frame f;
    char k2 = 0;
    std::string_view n2;
    check(next_frame(out, UINT32_MAX, f) == FrameStatus::ok);
    check(parse_target(f.body, k2, n2) && k2 == kind && n2 == name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  // A hostile stream has no framing at all: every parser sees the raw bytes too.
  parse_body(buf);
  // The proxy's limit is configurable; a small one exercises bad_length.
  constexpr uint32_t kMaxLen = 64 * 1024;
  while (!buf.empty()) {
    Frame f;
    FrameStatus st = next_frame(buf, kMaxLen, f);
    if (st != FrameStatus::ok) break;
    check(f.size >= 5 && f.size <= buf.size() && f.body.size() == f.size - 5);
    check(f.body.data() == buf.data() + 5);
    parse_body(f.body);
    buf.remove_prefix(f.size);
  }
  return 0;
}
