// The proxy config reader (TOML): anything but a valid config must end in a
// ConfigError that names FILE:LINE:COL; any other exception or crash is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pgwarden/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    pgw::ProxyConfig cfg = pgw::parse_config(text, "fuzz.toml");
    try {
      pgw::validate(cfg);
    } catch (const pgw::ConfigError&) {
    }
  } catch (const pgw::ConfigError& e) {
    // "fuzz.toml:LINE:COL: what"
    std::string_view what = e.what();
    constexpr std::string_view kSource = "fuzz.toml:";
    if (!what.starts_with(kSource) || what.size() <= kSource.size() || what[kSource.size()] < '1' ||
        what[kSource.size()] > '9')
      std::abort();
  }
  return 0;
}
