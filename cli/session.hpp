// What every command opens: the local file, the D1 it talks to (the REST API, or wrangler's
// local D1 through a local server) and the engine's options, each refused with a message
// naming what was wrong and the command's exit code.
#pragma once

#include <memory>
#include <string>

#include "args.hpp"
#include "engine.hpp"
#include "local_d1.hpp"
#include "rest_target.hpp"
#include "sqlite_file.hpp"

namespace d1sync::cli {

struct Session {
  SqliteFile file;
  LocalD1 local;
  std::unique_ptr<RestTarget> target;
  Options options;
  std::string where;  // "D1 database <id>" or "wrangler's local D1 (binding DB)", for messages
  bool replicatedBefore = false;  // the file holds d1sync's state from an earlier push
};

// Returns -1 when all is open, else the exit code with the reason in `err`.
int openFile(const Args& args, bool readOnly, Session& s, std::string& err, bool create = false);
int openTarget(const Args& args, Session& s, std::string& err);
int buildOptions(const Args& args, Session& s, std::string& err);

// The exit code for an engine error code.
int exitFor(ErrorCode code);

}  // namespace d1sync::cli
