#pragma once
// Protocol messages as bytes for the wire state-machine tests.
#include <string>

#include "pgwarden/wire/codec.hpp"

namespace pgw::wire::test {

// Holds one message's bytes and a Frame over them.
struct Msg {
  std::string bytes;
  Frame frame() const {
    Frame f;
    next_frame(bytes, 1 << 20, f);
    return f;
  }
};

inline Msg typed(char type, std::string body = {}) {
  Msg m;
  m.bytes.push_back(type);
  put_u32(m.bytes, static_cast<uint32_t>(body.size() + 4));
  m.bytes += body;
  return m;
}
inline Msg ready(char status) {
  return typed('Z', std::string(1, status));
}
inline Msg complete(const std::string& tag) {
  return typed('C', tag + std::string(1, '\0'));
}
inline Msg error(const std::string& severity, const std::string& sqlstate,
                 const std::string& text) {
  Msg m;
  error_response(m.bytes, {severity, sqlstate, text});
  return m;
}

}  // namespace pgw::wire::test
