// The proxy as SCRAM-SHA-256 client (proxy → server): server-first-message,
// then server-final-message, as a hostile or broken server could send them.
// Input: server-first, a newline, server-final (SCRAM text has no newlines).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgwarden/wire/auth.hpp"

using namespace pgw::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view first = in.substr(0, nl);
  std::string_view final_msg = nl == in.npos ? std::string_view{} : in.substr(nl + 1);

  // RFC 7677's client nonce, so the RFC's server-first extends it.
  ScramClient client("pencil", "rOprNGfwEbeRWgbNEkqO");
  client.client_first();
  std::string client_final, error;
  if (!client.on_server_first(first, client_final, error)) return 0;
  client.verify_server_final(final_msg, error);
  return 0;
}
