#pragma once
// The request target of an HTTP request line, split and decoded.
#include <string_view>

#include "pgwarden/admin/http_server.hpp"

namespace pgw::admin {

// "/api/drops?cause=server_fatal&q=a+b" → path "/api/drops", query
// {cause: server_fatal, q: "a b"}. Query keys and values take '+' as a space
// (HTML form encoding), then %XX; a key without '=' maps to ""; a repeated key
// keeps its last value.
void parse_target(std::string_view target, HttpRequest& out);

}  // namespace pgw::admin
