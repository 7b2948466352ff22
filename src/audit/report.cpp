#include "pgwarden/audit/report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "pgwarden/audit/rules.hpp"
#include "pgwarden/core/version.hpp"

namespace pgw::audit {

namespace {

using ojson = nlohmann::ordered_json;

const char* title_of(const Finding& f) {
  const RuleInfo* r = find_rule(f.rule);
  return r ? r->title : "";
}
const char* source_of(const Finding& f) {
  const RuleInfo* r = find_rule(f.rule);
  return r ? r->source : "";
}

const char* sarif_level(Severity s) {
  switch (s) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "note";
  }
  return "none";
}

std::string message_of(const Finding& f) {
  std::string m = f.setting.empty() ? std::string(title_of(f))
                                    : fmt::format("{} = {}: {}", f.setting, f.value, title_of(f));
  return fmt::format("{}. Evidence: {}. Fix: {}", m, f.evidence, f.fix);
}

}  // namespace

std::string render_text(const Report& r) {
  std::string out =
      fmt::format("pgwarden audit: target {}{}\n", r.target,
                  r.server_version.empty() ? std::string(", no server read")
                                           : fmt::format(", server {}", r.server_version));
  out += fmt::format("checks run: {}\n", r.checks_run.empty()
                                             ? std::string("none")
                                             : fmt::format("{}", fmt::join(r.checks_run, ", ")));
  for (auto& s : r.checks_skipped) out += fmt::format("skipped: {}\n", s);
  int counts[3] = {0, 0, 0};
  for (auto& f : r.findings) {
    ++counts[static_cast<int>(f.severity)];
    std::string sev = to_string(f.severity);
    for (auto& ch : sev) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out += fmt::format("\n{:<8}{}  {}\n", sev, f.rule, title_of(f));
    if (!f.setting.empty())
      out += f.value.empty() ? fmt::format("  setting:  {}\n", f.setting)
                             : fmt::format("  setting:  {} = {}\n", f.setting, f.value);
    out += fmt::format("  evidence: {}\n  fix:      {}\n", f.evidence, f.fix);
    if (f.location)
      out += f.location->line > 0
                 ? fmt::format("  at:       {}:{}\n", f.location->file, f.location->line)
                 : fmt::format("  at:       {}\n", f.location->file);
  }
  out += fmt::format("\nsummary: {} error(s), {} warning(s), {} info\n", counts[2], counts[1],
                     counts[0]);
  return out;
}

std::string render_json(const Report& r) {
  ojson j;
  j["tool"] = "pgwarden";
  j["version"] = pgw::kVersion;
  j["command"] = "audit";
  j["target"] = r.target;
  j["server_version"] = r.server_version.empty() ? ojson(nullptr) : ojson(r.server_version);
  j["checks_run"] = r.checks_run;
  j["checks_skipped"] = r.checks_skipped;
  int counts[3] = {0, 0, 0};
  ojson arr = ojson::array();
  for (auto& f : r.findings) {
    ++counts[static_cast<int>(f.severity)];
    ojson o;
    o["rule"] = f.rule;
    o["severity"] = to_string(f.severity);
    o["title"] = title_of(f);
    o["setting"] = f.setting;
    o["value"] = f.value;
    o["evidence"] = f.evidence;
    o["fix"] = f.fix;
    o["source"] = source_of(f);
    if (f.location) {
      o["location"] = {{"file", f.location->file}};
      if (f.location->line > 0) o["location"]["line"] = f.location->line;
    }
    arr.push_back(std::move(o));
  }
  j["summary"] = {{"error", counts[2]}, {"warning", counts[1]}, {"info", counts[0]}};
  j["findings"] = std::move(arr);
  return j.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

std::string render_sarif(const Report& r) {
  ojson rules = ojson::array();
  const auto& cat = rule_catalogue();
  for (auto& ri : cat) {
    rules.push_back(
        {{"id", ri.id},
         {"shortDescription", {{"text", ri.title}}},
         {"help", {{"text", fmt::format("Source of truth: {}. See docs/audit.md.", ri.source)}}},
         {"defaultConfiguration", {{"level", sarif_level(ri.severity)}}}});
  }
  ojson results = ojson::array();
  for (auto& f : r.findings) {
    ojson res;
    res["ruleId"] = f.rule;
    for (size_t i = 0; i < cat.size(); ++i)
      if (f.rule == cat[i].id) res["ruleIndex"] = i;
    res["level"] = sarif_level(f.severity);
    res["message"] = {{"text", message_of(f)}};
    ojson loc;
    if (f.location) {
      loc["physicalLocation"]["artifactLocation"]["uri"] = f.location->file;
      if (f.location->line > 0) loc["physicalLocation"]["region"]["startLine"] = f.location->line;
    }
    if (!f.setting.empty())
      loc["logicalLocations"] = ojson::array({{{"name", f.setting}, {"kind", "variable"}}});
    if (!loc.is_null()) res["locations"] = ojson::array({loc});
    res["properties"] = {
        {"setting", f.setting}, {"value", f.value}, {"evidence", f.evidence}, {"fix", f.fix}};
    results.push_back(std::move(res));
  }
  ojson run;
  run["tool"]["driver"] = {
      {"name", "pgwarden"}, {"semanticVersion", pgw::kVersion}, {"rules", std::move(rules)}};
  run["results"] = std::move(results);
  run["properties"] = {
      {"target", r.target}, {"checks_run", r.checks_run}, {"checks_skipped", r.checks_skipped}};
  ojson j;
  j["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  j["version"] = "2.1.0";
  j["runs"] = ojson::array({std::move(run)});
  return j.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

int exit_code(const Report& r, Severity fail_on) {
  for (auto& f : r.findings)
    if (static_cast<int>(f.severity) >= static_cast<int>(fail_on)) return 1;
  return 0;
}

}  // namespace pgw::audit
