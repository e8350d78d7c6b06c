// Change capture on the local database. Every replicated table gets AFTER INSERT / UPDATE /
// DELETE triggers appending one row per change to the outbox:
//   _d1sync_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl, op, key, at_ms)
// `key` is the row's key as comma-separated SQL literals (render.hpp), never the row itself:
// the row is read as it is when the change is shipped. `op` is I, U or D, or R for a row that
// an INSERT/UPDATE OR REPLACE may delete through a UNIQUE index without firing DELETE triggers.
// AUTOINCREMENT keeps seq rising even after the outbox is emptied.
#pragma once

#include <string>
#include <vector>

#include "schema.hpp"

namespace d1sync {

// The bookkeeping tables (outbox, state, quarantine), idempotent.
std::string bookkeepingDdl();

std::string triggerName(char op, const std::string& table);
// Statements that (re)install the capture triggers of `table`; `warnings` gets what cannot
// be captured (REPLACE victims through an expression index).
std::vector<std::string> captureDdl(const Table& table, std::vector<std::string>& warnings);
std::vector<std::string> dropCaptureDdl(const std::string& table);
// Names of the triggers captureDdl installs.
std::vector<std::string> captureTriggerNames(const Table& table);

}  // namespace d1sync
