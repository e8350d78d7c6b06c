// The D1 database a Worker project binds, read from its wrangler configuration
// (wrangler.json, wrangler.jsonc or wrangler.toml, in the order wrangler itself looks), so
// `d1sync push app.sqlite --binding DB` reaches the database `wrangler d1 execute DB` does.
#pragma once

#include <string>
#include <vector>

namespace d1sync::cli {

struct D1Binding {
  std::string binding;
  std::string databaseName;
  std::string databaseId;
  std::string previewDatabaseId;
};

struct WranglerConfig {
  std::string path;       // the file read
  std::string accountId;  // top-level account_id, when set
  std::vector<D1Binding> d1;
};

// Reads `path`, or when it is empty the first of wrangler.json / wrangler.jsonc / wrangler.toml
// in `dir` or the nearest directory above it. Returns an error message, empty on success.
std::string readWranglerConfig(const std::string& path, const std::string& dir,
                               WranglerConfig& out);
// The binding called `name`, or the only one when `name` is empty. Returns an error message,
// empty on success.
std::string findBinding(const WranglerConfig& config, const std::string& name, D1Binding& out);

}  // namespace d1sync::cli
