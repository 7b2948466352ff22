#pragma once
// Human-readable diagnostics (spdlog to stderr). Connection events are not
// logs: they go through observe/ as structured records.
#include <spdlog/spdlog.h>

#include <string_view>

namespace pgw {
// level: trace, debug, info, warn, error, off. Unknown names keep "info".
void setup_logging(std::string_view level);
}  // namespace pgw
