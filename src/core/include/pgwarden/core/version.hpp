#pragma once
namespace pgw {
inline constexpr const char* kVersion = "0.1.0";
}
