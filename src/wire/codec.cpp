#include "pgwarden/wire/codec.hpp"

#include <cstring>

namespace pgw::wire {

void put_u32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}
void put_u16(std::string& out, uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}

namespace {
// Starts a typed message; returns the offset of its length word.
size_t begin(std::string& out, char type) {
  out.push_back(type);
  size_t at = out.size();
  out.append(4, '\0');
  return at;
}
void end(std::string& out, size_t at) {
  uint32_t len = static_cast<uint32_t>(out.size() - at);
  out[at] = static_cast<char>(len >> 24);
  out[at + 1] = static_cast<char>(len >> 16);
  out[at + 2] = static_cast<char>(len >> 8);
  out[at + 3] = static_cast<char>(len);
}
void cstr(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}
void fields(std::string& out, char type, const ErrorFields& e) {
  size_t at = begin(out, type);
  out.push_back('S');
  cstr(out, e.severity);
  out.push_back('V');
  cstr(out, e.severity);
  out.push_back('C');
  cstr(out, e.sqlstate);
  out.push_back('M');
  cstr(out, e.message);
  if (!e.detail.empty()) {
    out.push_back('D');
    cstr(out, e.detail);
  }
  if (!e.hint.empty()) {
    out.push_back('H');
    cstr(out, e.hint);
  }
  out.push_back('\0');
  end(out, at);
}
}  // namespace

FrameStatus next_frame(std::string_view buf, uint32_t max_len, Frame& out) {
  if (buf.size() < 5) return FrameStatus::need_more;
  uint32_t len = read_u32(buf.data() + 1);
  if (len < 4 || len > max_len) return FrameStatus::bad_length;
  if (buf.size() < size_t{len} + 1) return FrameStatus::need_more;
  out.type = buf[0];
  out.body = buf.substr(5, len - 4);
  out.size = size_t{len} + 1;
  return FrameStatus::ok;
}

const std::string* StartupPacket::param(std::string_view key) const {
  for (auto& [k, v] : params)
    if (k == key) return &v;
  return nullptr;
}

bool read_cstring(std::string_view body, size_t& pos, std::string_view& out) {
  if (pos > body.size()) return false;
  auto nul = body.find('\0', pos);
  if (nul == std::string_view::npos) return false;
  out = body.substr(pos, nul - pos);
  pos = nul + 1;
  return true;
}

StartupResult parse_startup(std::string_view buf, StartupPacket& out) {
  StartupResult r;
  if (buf.size() < 4) return r;
  uint32_t len = read_u32(buf.data());
  if (len < 8 || len > kMaxStartupPacket) {
    r.status = StartupStatus::bad_length;
    r.error = "invalid length of startup packet (" + std::to_string(len) + " bytes)";
    return r;
  }
  if (buf.size() < 8) return r;
  uint32_t code = read_u32(buf.data() + 4);
  // Special requests are exactly 8 (16 for cancel) bytes; read them as soon as
  // their code is known so a short SSLRequest is never mistaken for partial.
  if (code == kSslRequest || code == kGssEncRequest) {
    if (len != 8) {
      r.status = StartupStatus::malformed;
      r.error = "invalid length of SSL/GSS negotiation packet";
      return r;
    }
    out.kind = code == kSslRequest ? StartupKind::ssl_request : StartupKind::gss_request;
    r.status = StartupStatus::ok;
    r.consumed = 8;
    return r;
  }
  if (buf.size() < len) return r;
  r.consumed = len;
  std::string_view body = buf.substr(8, len - 8);
  if (code == kCancelRequest) {
    if (len != 16) {
      r.status = StartupStatus::malformed;
      r.error = "invalid length of cancel request packet";
      return r;
    }
    out.kind = StartupKind::cancel;
    out.cancel_pid = read_u32(body.data());
    out.cancel_key = read_u32(body.data() + 4);
    r.status = StartupStatus::ok;
    return r;
  }
  if ((code >> 16) != 3) {
    r.status = StartupStatus::unsupported_version;
    r.error = "unsupported frontend protocol " + std::to_string(code >> 16) + "." +
              std::to_string(code & 0xffff) + ": server supports 3.0 to 3.0";
    return r;
  }
  out.kind = StartupKind::startup;
  out.version = code;
  size_t pos = 0;
  while (pos < body.size() && body[pos] != '\0') {
    std::string_view k, v;
    if (!read_cstring(body, pos, k) || !read_cstring(body, pos, v)) {
      r.status = StartupStatus::malformed;
      r.error = "invalid startup packet layout: expected terminator as last byte";
      return r;
    }
    out.params.emplace_back(std::string(k), std::string(v));
  }
  if (pos + 1 != body.size()) {
    r.status = StartupStatus::malformed;
    r.error = "invalid startup packet layout: expected terminator as last byte";
    return r;
  }
  r.status = StartupStatus::ok;
  return r;
}

void error_response(std::string& out, const ErrorFields& e) {
  fields(out, 'E', e);
}
void notice_response(std::string& out, const ErrorFields& e) {
  fields(out, 'N', e);
}

static void auth(std::string& out, uint32_t code, std::string_view data) {
  size_t at = begin(out, 'R');
  put_u32(out, code);
  out.append(data);
  end(out, at);
}
void auth_ok(std::string& out) {
  auth(out, 0, {});
}
void auth_cleartext(std::string& out) {
  auth(out, 3, {});
}
void auth_md5(std::string& out, const char salt[4]) {
  auth(out, 5, std::string_view(salt, 4));
}
void auth_sasl(std::string& out, std::string_view mechanism) {
  std::string data(mechanism);
  data.push_back('\0');
  data.push_back('\0');
  auth(out, 10, data);
}
void auth_sasl_continue(std::string& out, std::string_view data) {
  auth(out, 11, data);
}
void auth_sasl_final(std::string& out, std::string_view data) {
  auth(out, 12, data);
}

void parameter_status(std::string& out, std::string_view key, std::string_view value) {
  size_t at = begin(out, 'S');
  cstr(out, key);
  cstr(out, value);
  end(out, at);
}
void backend_key_data(std::string& out, uint32_t pid, uint32_t key) {
  size_t at = begin(out, 'K');
  put_u32(out, pid);
  put_u32(out, key);
  end(out, at);
}
void ready_for_query(std::string& out, char status) {
  size_t at = begin(out, 'Z');
  out.push_back(status);
  end(out, at);
}
void parse_complete(std::string& out) {
  end(out, begin(out, '1'));
}
void close_complete(std::string& out) {
  end(out, begin(out, '3'));
}

void row_description(std::string& out, const std::vector<Column>& columns) {
  size_t at = begin(out, 'T');
  put_u16(out, static_cast<uint16_t>(columns.size()));
  for (const auto& c : columns) {
    out.append(c.name);
    out.push_back('\0');
    put_u32(out, 0);  // not from a table
    put_u16(out, 0);
    put_u32(out, c.type_oid);
    put_u16(out, c.type_oid == kInt8Oid ? 8 : 0xffff);  // typlen (-1 = varlena)
    put_u32(out, 0xffffffff);                           // typmod -1
    put_u16(out, 0);                                    // text format
  }
  end(out, at);
}

void data_row(std::string& out, const std::vector<std::optional<std::string>>& values) {
  size_t at = begin(out, 'D');
  put_u16(out, static_cast<uint16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      put_u32(out, 0xffffffff);
      continue;
    }
    put_u32(out, static_cast<uint32_t>(v->size()));
    out.append(*v);
  }
  end(out, at);
}

void command_complete(std::string& out, std::string_view tag) {
  size_t at = begin(out, 'C');
  out.append(tag);
  out.push_back('\0');
  end(out, at);
}

void startup_message(std::string& out,
                     const std::vector<std::pair<std::string, std::string>>& params) {
  size_t at = out.size();
  out.append(4, '\0');
  put_u32(out, kProtocol3);
  for (auto& [k, v] : params) {
    cstr(out, k);
    cstr(out, v);
  }
  out.push_back('\0');
  uint32_t len = static_cast<uint32_t>(out.size() - at);
  std::string l;
  put_u32(l, len);
  out.replace(at, 4, l);
}
void cancel_request(std::string& out, uint32_t pid, uint32_t key) {
  put_u32(out, 16);
  put_u32(out, kCancelRequest);
  put_u32(out, pid);
  put_u32(out, key);
}
void query(std::string& out, std::string_view sql) {
  size_t at = begin(out, 'Q');
  cstr(out, sql);
  end(out, at);
}
void terminate(std::string& out) {
  end(out, begin(out, 'X'));
}
void password_message(std::string& out, std::string_view password) {
  size_t at = begin(out, 'p');
  cstr(out, password);
  end(out, at);
}
void sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data) {
  size_t at = begin(out, 'p');
  cstr(out, mechanism);
  put_u32(out, static_cast<uint32_t>(data.size()));
  out.append(data);
  end(out, at);
}
void sasl_response(std::string& out, std::string_view data) {
  size_t at = begin(out, 'p');
  out.append(data);
  end(out, at);
}
void sync(std::string& out) {
  end(out, begin(out, 'S'));
}
void parse(std::string& out, std::string_view name, std::string_view query_and_types) {
  size_t at = begin(out, 'P');
  cstr(out, name);
  out.append(query_and_types);
  end(out, at);
}
void close_statement(std::string& out, std::string_view name) {
  size_t at = begin(out, 'C');
  out.push_back('S');
  cstr(out, name);
  end(out, at);
}
void bind(std::string& out, std::string_view portal, std::string_view statement,
          std::string_view after_stmt) {
  size_t at = begin(out, 'B');
  cstr(out, portal);
  cstr(out, statement);
  out.append(after_stmt);
  end(out, at);
}
void describe(std::string& out, char kind, std::string_view name) {
  size_t at = begin(out, 'D');
  out.push_back(kind);
  cstr(out, name);
  end(out, at);
}

std::vector<std::string> parse_data_row(std::string_view body) {
  std::vector<std::string> row;
  if (body.size() < 2) return row;
  const size_t n = read_u16(body.data());
  size_t pos = 2;
  for (size_t i = 0; i < n && pos + 4 <= body.size(); ++i) {
    const auto len = static_cast<int32_t>(read_u32(body.data() + pos));
    pos += 4;
    if (len < 0) {
      row.emplace_back();
      continue;
    }
    if (pos + static_cast<size_t>(len) > body.size()) break;
    row.emplace_back(body.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len);
  }
  return row;
}

void execute(std::string& out, std::string_view portal, uint32_t max_rows) {
  size_t at = begin(out, 'E');
  cstr(out, portal);
  put_u32(out, max_rows);
  end(out, at);
}
void flush(std::string& out) {
  size_t at = begin(out, 'H');
  end(out, at);
}

bool parse_error_fields(std::string_view body, ErrorFields& out) {
  size_t pos = 0;
  while (pos < body.size() && body[pos] != '\0') {
    char code = body[pos++];
    std::string_view v;
    if (!read_cstring(body, pos, v)) return false;
    switch (code) {
      case 'V':
        out.severity = v;
        break;
      case 'S':
        if (out.severity.empty()) out.severity = v;
        break;
      case 'C':
        out.sqlstate = v;
        break;
      case 'M':
        out.message = v;
        break;
      case 'D':
        out.detail = v;
        break;
      case 'H':
        out.hint = v;
        break;
      default:
        break;
    }
  }
  return true;
}

bool parse_parameter_status(std::string_view body, std::string_view& key, std::string_view& value) {
  size_t pos = 0;
  return read_cstring(body, pos, key) && read_cstring(body, pos, value);
}

bool parse_auth_request(std::string_view body, uint32_t& code, std::string_view& data) {
  if (body.size() < 4) return false;
  code = read_u32(body.data());
  data = body.substr(4);
  return true;
}

bool parse_backend_key_data(std::string_view body, uint32_t& pid, uint32_t& key) {
  if (body.size() != 8) return false;
  pid = read_u32(body.data());
  key = read_u32(body.data() + 4);
  return true;
}

bool parse_parse(std::string_view body, ParseView& out) {
  size_t pos = 0;
  if (!read_cstring(body, pos, out.name)) return false;
  out.rest = body.substr(pos);
  size_t qpos = pos;
  if (!read_cstring(body, qpos, out.query)) return false;
  if (qpos + 2 > body.size()) return false;
  uint16_t n = read_u16(body.data() + qpos);
  return body.size() - qpos - 2 == size_t{n} * 4;
}

bool parse_bind(std::string_view body, BindView& out) {
  size_t pos = 0;
  if (!read_cstring(body, pos, out.portal) || !read_cstring(body, pos, out.statement)) return false;
  out.after_stmt = body.substr(pos);
  return true;
}

bool parse_target(std::string_view body, char& kind, std::string_view& name) {
  if (body.empty()) return false;
  kind = body[0];
  if (kind != 'S' && kind != 'P') return false;
  size_t pos = 1;
  return read_cstring(body, pos, name) && pos == body.size();
}

}  // namespace pgw::wire
