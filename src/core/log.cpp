#include "pgwarden/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace pgw {
void setup_logging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("pgwarden");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  spdlog::set_level(lvl);
}
}  // namespace pgw
