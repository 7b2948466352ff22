#pragma once
// Toxics as Toxiproxy defines them (docs/faults.md), and the pure parts of
// what they do to a byte stream: no sockets, no clocks, randomness passed in,
// so every rule is unit-tested on its own. The relay (relay.hpp) applies them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/core/faults_config.hpp"

namespace pgw::faults {

// upstream: client → server; downstream: server → client.
enum class Stream { upstream, downstream };
const char* to_string(Stream s);
std::optional<Stream> parse_stream(std::string_view text);

struct ToxicSpec {
  std::string name;
  std::string type;
  Stream stream = Stream::downstream;
  double toxicity = 1.0;
  // Every attribute of the type (missing ones 0, as Toxiproxy answers them).
  std::map<std::string, int64_t> attributes;
  int64_t attr(const std::string& key) const;
};

// The toxic types in the order docs/faults.md lists them.
const std::vector<std::string>& toxic_types();
// The attribute names of a type; nullptr for an unknown type.
const std::vector<std::string>* toxic_attributes(std::string_view type);

struct SpecProblem {
  std::string key;  // "type", "toxicity", "attributes.rate", ...
  std::string message;
};
// Fills in the name (<type>_<stream>) and missing attributes, and checks the
// type, toxicity (0..1), attribute names and values (never negative). Unknown
// attribute names are an error here; the HTTP API drops them first, as
// Toxiproxy ignores them.
std::optional<SpecProblem> check_toxic(ToxicSpec& spec);

// A toxic as the config file gives it, checked (check_toxic) into `spec`;
// the problem with its key when it is wrong. `pgwarden faults --config` reads
// every toxic through this.
std::optional<ToxicProblem> toxic_from_config(const FaultToxicConfig& t, ToxicSpec& spec);
// The ToxicCheck for load_faults_config: fills the toxic's defaults in.
std::optional<ToxicProblem> check_toxic_config(FaultToxicConfig& t);

// The PostgreSQL login toxics: the FATAL a real server sends in that case
// (SQLSTATE and message), for a login as `user`; nullopt for other types.
struct LoginFatal {
  std::string sqlstate;
  std::string message;
};
std::optional<LoginFatal> login_fatal(std::string_view type, const std::string& user);

// Toxicity is drawn once per toxic and connection direction: true when the
// toxic acts on it. 1 always acts, 0 never does.
bool toxicity_draw(double toxicity, std::mt19937_64& rng);

// latency: latency + a uniform draw in [-jitter, +jitter), never below 0 (ms).
std::chrono::milliseconds latency_delay(int64_t latency_ms, int64_t jitter_ms,
                                        std::mt19937_64& rng);

// slicer: piece sizes for a chunk of `len` bytes. A piece longer than
// average + variation is split in two near its middle (± variation), again
// and again, so every piece is at most average + variation bytes and the
// pieces add up to len. average 0 (or len within the bound): one piece.
std::vector<size_t> slice_sizes(size_t len, size_t average, size_t variation, std::mt19937_64& rng);

// bandwidth: a chunk of `len` bytes leaves in pieces of at most rate*100 bytes
// (100 ms worth), each one sent after waiting the time it takes at `rate`
// KB/s (1 KB = 1000 bytes). rate 0 stalls the stream: an empty schedule.
struct PacedPiece {
  size_t bytes = 0;
  std::chrono::microseconds wait{0};
};
std::vector<PacedPiece> bandwidth_schedule(size_t len, int64_t rate_kb_per_s);

// limit_data: how much of each chunk still fits under the limit; once the
// limit is reached the connection closes.
class DataLimit {
 public:
  explicit DataLimit(uint64_t limit) : remaining_(limit) {}
  // Bytes of an n-byte chunk to forward (the rest is dropped).
  size_t admit(size_t n);
  bool reached() const { return remaining_ == 0; }
  uint64_t remaining() const { return remaining_; }

 private:
  uint64_t remaining_;
};

}  // namespace pgw::faults
