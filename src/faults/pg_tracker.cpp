#include "pgwarden/faults/pg_tracker.hpp"

#include <algorithm>

#include "pgwarden/wire/codec.hpp"

namespace pgw::faults {

namespace {
// Larger than any message a PostgreSQL peer sends in practice (1 GB is the
// server's own limit); a longer length word means this is not PostgreSQL.
constexpr uint32_t kMaxFrame = 1u << 30;
}  // namespace

// Calls on_frame(type, first_body_byte_or_0) for each frame header; false when
// the stream cannot be PostgreSQL.
template <class OnFrame>
bool PgTracker::feed(Frames& f, std::string_view bytes, OnFrame&& on_frame) {
  while (!bytes.empty()) {
    if (f.skip > 0) {
      if (f.want_first) {
        f.want_first = false;
        on_frame(f.header[0], bytes[0]);
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(f.skip, bytes.size()));
      f.skip -= n;
      bytes.remove_prefix(n);
      continue;
    }
    size_t n = std::min(sizeof f.header - f.have, bytes.size());
    std::copy_n(bytes.data(), n, f.header + f.have);
    f.have += n;
    bytes.remove_prefix(n);
    if (f.have < sizeof f.header) break;
    f.have = 0;
    uint32_t len = wire::read_u32(f.header + 1);
    if (len < 4 || len > kMaxFrame) return false;
    f.skip = len - 4;
    if (f.skip > 0 && f.header[0] == 'Z') {
      f.want_first = true;
    } else {
      on_frame(f.header[0], char{0});
    }
  }
  return true;
}

void PgTracker::from_client(std::string_view bytes) {
  std::string rest;  // typed messages after the startup packet, same chunk
  if (phase_ == Phase::startup) {
    startup_.append(bytes);
    for (;;) {
      wire::StartupPacket p;
      auto r = wire::parse_startup(startup_, p);
      if (r.status == wire::StartupStatus::need_more) return;
      if (r.status != wire::StartupStatus::ok || p.kind == wire::StartupKind::cancel) {
        phase_ = Phase::opaque;
        return;
      }
      rest = startup_.substr(r.consumed);
      startup_.clear();
      if (p.kind == wire::StartupKind::ssl_request || p.kind == wire::StartupKind::gss_request) {
        ssl_answer_due_ = true;
        startup_ = std::move(rest);
        continue;
      }
      if (const auto* u = p.param("user")) user_ = *u;
      if (const auto* d = p.param("database")) database_ = *d;
      phase_ = Phase::login;
      break;
    }
    bytes = rest;
  }
  if (phase_ != Phase::login && phase_ != Phase::ready) return;
  bool ok = feed(client_, bytes, [this](char type, char) {
    if (type == 'Q' || type == 'S' || type == 'F') ++in_flight_;
  });
  if (!ok) phase_ = Phase::opaque;
}

void PgTracker::from_server(std::string_view bytes) {
  if (phase_ == Phase::opaque || bytes.empty()) return;
  if (ssl_answer_due_) {
    ssl_answer_due_ = false;
    if (bytes[0] != 'N') {  // 'S' / 'G': encrypted from here on
      phase_ = Phase::opaque;
      return;
    }
    bytes.remove_prefix(1);
  }
  bool ok = feed(server_, bytes, [this](char type, char first) {
    if (type == 'W') streaming_ = true;
    if (type != 'Z') return;
    status_ = first;
    phase_ = Phase::ready;
    if (in_flight_ > 0) --in_flight_;
  });
  if (!ok) phase_ = Phase::opaque;
}

}  // namespace pgw::faults
