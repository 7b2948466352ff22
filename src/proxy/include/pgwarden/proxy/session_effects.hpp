#pragma once
// What a client's SQL may leave on its server connection beyond the
// transaction: settings (which transaction pooling carries to the client's
// next connection) and state that cannot be carried (which pins the client to
// its connection, or is refused, as configured). A lexical scan, not a parser:
// statement starts after whitespace and comments, and a few function names.
#include <string>
#include <string_view>
#include <vector>

namespace pgw::proxy {

struct SessionEffects {
  bool settings = false;  // SET (not LOCAL/TRANSACTION), RESET, DISCARD, set_config()
  // RESET, SET ... TO DEFAULT, DISCARD, set_config(): may bring a parameter
  // back to its reset value, which on a pooled link is the link's login value
  // rather than the client's startup value.
  bool resets = false;
  // What cannot be carried, for messages ("LISTEN", "a temporary table"...);
  // nullptr when nothing.
  const char* uncarried = nullptr;
  // Custom (dotted) variables it sets or resets, lower-cased: PostgreSQL does
  // not list them in pg_settings, so they must be read back by name.
  std::vector<std::string> custom_names;
};

SessionEffects scan_session_effects(std::string_view sql);

}  // namespace pgw::proxy
