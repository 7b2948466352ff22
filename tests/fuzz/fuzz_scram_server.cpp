// The proxy as SCRAM-SHA-256 server (client → proxy): client-first-message,
// then client-final-message, against a fixed verifier; and the stored-verifier
// text itself (ScramSecret::parse reads config and auth_file passwords).
// Input: client-first, a newline, client-final (SCRAM text has no newlines).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgwarden/wire/auth.hpp"

using namespace pgw::wire;

namespace {
// RFC 7677's example: password "pencil", so the RFC's messages succeed.
const ScramSecret& secret() {
  static const ScramSecret s =
      ScramSecret::from_password("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ScramSecret::parse(in);
  auto nl = in.find('\n');
  std::string_view first = in.substr(0, nl);
  std::string_view final_msg = nl == in.npos ? std::string_view{} : in.substr(nl + 1);

  ScramServer server(secret(), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  std::string server_first, server_final, error;
  if (!server.on_client_first(first, server_first, error)) return 0;
  server.on_client_final(final_msg, server_final, error);
  return 0;
}
