#pragma once
// URL helpers shared by the proxy's --backend flag and audit's connection strings.
#include <string>
#include <string_view>

namespace pgw {
// Decodes %XX escapes; a malformed escape is kept as it is.
std::string percent_decode(std::string_view s);
}  // namespace pgw
