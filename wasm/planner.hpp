// The D1 half's planner: turns a changeset (changeset.hpp) into jobs, each one atomic D1 batch
// once the fence's guard and advance surround it, and renders a job's statements.
//
// A job does not copy rows: it names runs ("slices") of the changeset's records, so splitting
// a job D1 refused is a matter of cutting a slice in two, and the rows are read out of the
// changeset's tuple lists only when the job is rendered. Records go in this order, which
// keeps foreign keys satisfiable at every statement boundary a Strict replica checks:
//   1. range deletes and key deletes, tables in reverse order (children before parents);
//   2. upserts, tables in order (parents before children).
// A key both deleted and upserted ends upserted, as the changeset format says; a key that
// only changed under its collation (NOCASE 'a' -> 'A') is deleted and written anew.
//
// Sizes are estimated the way the chunker will pack the records: bytes against the batch's
// byte limit, a share of a statement per record against the statements a batch may hold, and
// upserts against the rows D1 writes within the batch's time budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "changeset.hpp"
#include "chunker.hpp"
#include "limits.hpp"

namespace d1sync {

// A run of one table's records of one kind.
struct Slice {
  enum Kind : uint8_t { Range, Delete, Upsert };
  Kind kind = Upsert;
  size_t table = 0;  // index into Changeset::tables (and the shapes beside it)
  size_t first = 0, count = 0;
};

struct Job {
  std::vector<std::string> statements;  // a schema page's DDL, sent as it stands
  std::vector<Slice> slices;
  size_t maxRows = SIZE_MAX;  // rows per multi-row statement (lowered after a limit error)
  bool retried = false;       // a lone record D1 refused once: sent once more before giving up
  bool allParts = false;      // ... with every value it can spare appended in parts

  size_t records() const;  // statements, range deletes, deletes and upserts
  size_t rows() const;     // upserts
};

// A job's one record, for quarantine: its table and its key as the outbox keeps it
// (comma-separated literals). `upsert` tells a row from a delete.
struct LoneRecord {
  std::string table;
  std::string key;
  bool upsert = false;
};

class Planner {
 public:
  Planner(const Limits& limits, const Chunker& chunker) : limits_(limits), chunker_(chunker) {}

  // Jobs for a changeset; `shapes[i]` is where table i lands in D1. Always at least one job
  // (an empty one carries a watermark advance alone).
  std::deque<Job> plan(const Changeset& changes, const std::vector<TargetShape>& shapes) const;
  // Jobs for DDL statements sent in order.
  std::deque<Job> planStatements(std::vector<std::string> statements) const;
  // The statements of a job (without the fence's guard and advance).
  std::vector<std::string> render(const Job& job, const Changeset& changes,
                                  const std::vector<TargetShape>& shapes) const;

 private:
  const Limits& limits_;
  const Chunker& chunker_;
};

// Splits a job of two or more records in two halves by records.
void splitJob(Job job, Job& first, Job& second);
// The record of a job holding exactly one range delete, delete or upsert; nothing otherwise.
std::optional<LoneRecord> loneRecord(const Job& job, const Changeset& changes);

// The changeset of one job on its own: its records, table by table in the changeset's order,
// under `header`. What a host sends a sync endpoint, which plans and renders it as the engine
// would have; a job of DDL statements has no records (a changeset without tables).
// Fails (naming the record) only if `changes` holds a record its own checks would refuse.
ChangesetStatus jobChangeset(const Job& job, const Changeset& changes,
                             const ChangesetHeader& header, Changeset& out);

// Where a changeset's table lands in D1: its name there, the tuple's columns, the first
// keyWidth of them as the key, and the tenant.
TargetShape shapeFor(const TableChanges& table, const std::string& d1Name,
                     const std::optional<std::string>& tenantColumn,
                     const std::string& tenantLiteral);

}  // namespace d1sync
