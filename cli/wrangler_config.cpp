#include "wrangler_config.hpp"

#include <toml++/toml.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "json_fields.hpp"

namespace d1sync::cli {
namespace {

namespace fs = std::filesystem;

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

std::string fromToml(const std::string& path, const std::string& text, WranglerConfig& out) {
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << path << ":" << e.source().begin.line << ": " << e.description();
    return m.str();
  }
  out.accountId = doc["account_id"].value_or(std::string());
  if (const toml::array* list = doc["d1_databases"].as_array()) {
    for (const auto& node : *list) {
      const toml::table* t = node.as_table();
      if (!t) return path + ": d1_databases holds something that is not a table";
      D1Binding b;
      b.binding = (*t)["binding"].value_or(std::string());
      b.databaseName = (*t)["database_name"].value_or(std::string());
      b.databaseId = (*t)["database_id"].value_or(std::string());
      b.previewDatabaseId = (*t)["preview_database_id"].value_or(std::string());
      out.d1.push_back(std::move(b));
    }
  }
  return "";
}

std::string fromJson(const std::string& path, const std::string& text, WranglerConfig& out) {
  // wrangler.jsonc allows comments; nlohmann skips them when asked.
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false, true);
  if (doc.is_discarded() || !doc.is_object())
    return path + ": not valid JSON (comments are fine; trailing commas are not)";
  out.accountId = textField(doc, "account_id");
  const auto& list = jsonField(doc, "d1_databases");
  if (list.is_array()) {
    for (const auto& t : list) {
      if (!t.is_object()) return path + ": d1_databases holds something that is not an object";
      out.d1.push_back({textField(t, "binding"), textField(t, "database_name"),
                        textField(t, "database_id"), textField(t, "preview_database_id")});
    }
  }
  return "";
}

}  // namespace

std::string readWranglerConfig(const std::string& path, const std::string& dir,
                               WranglerConfig& out) {
  out = {};
  out.path = path;
  if (out.path.empty()) {
    // Like wrangler: the nearest directory upwards holding one, json before jsonc before toml.
    std::error_code ec;
    for (fs::path d = fs::absolute(dir.empty() ? "." : dir, ec); out.path.empty();
         d = d.parent_path()) {
      for (const char* name : {"wrangler.json", "wrangler.jsonc", "wrangler.toml"}) {
        if (fs::exists(d / name, ec)) {
          out.path = (d / name).string();
          break;
        }
      }
      if (d == d.parent_path()) break;
    }
    if (out.path.empty())
      return "no wrangler.json, wrangler.jsonc or wrangler.toml in " + (dir.empty() ? "." : dir) +
             " (give --config, or --database and an account)";
  }
  std::string text;
  if (!readFile(out.path, text)) return "cannot read " + out.path;
  const bool toml = fs::path(out.path).extension() == ".toml";
  return toml ? fromToml(out.path, text, out) : fromJson(out.path, text, out);
}

std::string findBinding(const WranglerConfig& config, const std::string& name, D1Binding& out) {
  if (config.d1.empty()) return config.path + " declares no d1_databases";
  if (name.empty()) {
    if (config.d1.size() > 1) {
      std::string names;
      for (const auto& b : config.d1) names += (names.empty() ? "" : ", ") + b.binding;
      return config.path + " binds several D1 databases (" + names + "): choose one with --binding";
    }
    out = config.d1.front();
    return "";
  }
  for (const auto& b : config.d1) {
    if (b.binding == name) {
      out = b;
      return "";
    }
  }
  return config.path + " has no D1 binding named '" + name + "'";
}

}  // namespace d1sync::cli
