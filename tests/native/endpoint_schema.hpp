// The schema the endpoint tests share: a client's local tables, and D1's for the same tables
// behind a sync endpoint that partitions them by user_id.
#pragma once

#include "fixtures.hpp"

namespace d1sync::native {

inline const char* kEndpointLocal = R"sql(
  CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT, done INTEGER, score REAL, data BLOB);
  CREATE TABLE notes(body TEXT);
)sql";

inline const char* kEndpointD1 = R"sql(
  CREATE TABLE tasks(user_id TEXT NOT NULL, id INTEGER NOT NULL, title TEXT, done INTEGER,
                     score REAL, data BLOB, PRIMARY KEY(user_id, id));
  CREATE TABLE notes(user_id TEXT NOT NULL, rowid INTEGER NOT NULL, body TEXT,
                     PRIMARY KEY(user_id, rowid));
)sql";

inline Options remoteOptions(const std::string& device, uint64_t seed) {
  Options o = defaultOptions(device, seed);
  o.remote = true;
  return o;
}

}  // namespace d1sync::native
