// Change capture on the local database. Every replicated table gets AFTER INSERT / UPDATE /
// DELETE triggers appending one row per change to the outbox:
//   _d1sync_log(seq INTEGER PRIMARY KEY, tbl, op, key, at_ms)
// `key` is the row's key as comma-separated SQL literals (render.hpp), never the row itself:
// the row is read as it is when the change is shipped. `op` is I, U or D, or R for a row that
// an INSERT/UPDATE OR REPLACE may delete through a UNIQUE index without firing DELETE triggers,
// or V for a key repair() sends again after a verify (engine_verify.cpp).
// A keep trigger holds the newest row back from deletes, so seq keeps rising even after the
// outbox is emptied.
#pragma once

#include <string>
#include <vector>

#include "schema.hpp"

namespace d1sync {

// The bookkeeping tables (outbox, state, quarantine), idempotent; `temp`: as TEMP tables, for
// a database that is not written (Options::snapshot).
std::string bookkeepingDdl(bool temp = false);

std::string triggerName(char op, const std::string& table);
// Statements that (re)install the capture triggers of `table`; `warnings` gets what cannot
// be captured (REPLACE victims through an expression index).
std::vector<std::string> captureDdl(const Table& table, std::vector<std::string>& warnings);
std::vector<std::string> dropCaptureDdl(const std::string& table);
// Names of the triggers captureDdl installs.
std::vector<std::string> captureTriggerNames(const Table& table);

enum class CaptureState {
  Current,  // every trigger is there, as captureDdl writes it today
  Stale,    // every trigger is there, some as an older d1sync wrote it: reinstall them all
  Missing,  // a trigger is gone: writes may have gone uncaptured
};
CaptureState captureState(const Table& table, const std::vector<MasterEntry>& entries);

}  // namespace d1sync
