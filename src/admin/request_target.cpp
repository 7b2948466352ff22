#include "request_target.hpp"

#include <algorithm>
#include <string>

#include "pgwarden/core/url.hpp"

namespace pgw::admin {

namespace {

std::string decode_form_component(std::string_view s) {
  std::string spaced(s);
  std::replace(spaced.begin(), spaced.end(), '+', ' ');
  return percent_decode(spaced);
}

}  // namespace

void parse_target(std::string_view target, HttpRequest& out) {
  size_t question = target.find('?');
  out.path = percent_decode(target.substr(0, question));
  out.query.clear();
  if (question == std::string_view::npos) return;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = decode_form_component(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string{} : decode_form_component(pair.substr(eq + 1));
    out.query.insert_or_assign(std::move(key), std::move(value));
  }
}

}  // namespace pgw::admin
