// The untyped startup packet (StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest): the first bytes any client sends, before authentication.
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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  StartupPacket pkt;
  StartupResult r = parse_startup(buf, pkt);
  switch (r.status) {
    case StartupStatus::ok:
      check(r.consumed >= 8 && r.consumed <= buf.size());
      break;
    case StartupStatus::need_more:
      check(r.consumed == 0 && r.error.empty());
      break;
    default:
      check(!r.error.empty());  // the client is told why
      break;
  }
  if (r.status == StartupStatus::ok && pkt.kind == StartupKind::startup) {
    // What the proxy forwards to the server must read back the same.
    std::string out;
    startup_message(out, pkt.params);
    StartupPacket again;
    StartupResult r2 = parse_startup(out, again);
    check(r2.status == StartupStatus::ok && r2.consumed == out.size() &&
          again.params == pkt.params);
  }
  // A packet cut anywhere is incomplete, never misread.
  if (r.status == StartupStatus::ok && r.consumed > 8) {
    StartupPacket part;
    check(parse_startup(buf.substr(0, r.consumed - 1), part).status == StartupStatus::need_more);
  }
  return 0;
}
