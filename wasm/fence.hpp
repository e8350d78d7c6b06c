// The fenced, exactly-once protocol on D1. D1 keeps one row per replicating database:
//   _d1sync_sources(source_id PRIMARY KEY, incarnation, epoch, applied_seq, last_batch,
//                   tenant_column, tenant_value, updated_at)
// start() claims the row (bumping epoch), every batch opens with a guard that fails the whole
// atomic batch unless incarnation, epoch, applied_seq and last_batch are what this engine
// expects, and closes by advancing applied_seq and last_batch. After a lost answer the engine
// reads the row back and accepts the batch only if last_batch is that batch's id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host.hpp"

namespace d1sync {

struct SourceRow {
  bool present = false;
  std::string incarnation;
  int64_t epoch = 0;
  int64_t appliedSeq = 0;
  std::string lastBatch;
};

struct FenceId {
  std::string sourceId;
  std::string incarnation;
  std::string tenantColumn;   // empty without a tenant
  std::string tenantLiteral;  // the tenant value as an SQL literal
};

// Statement indexes inside the claim batch whose rows the engine reads.
constexpr size_t kClaimRowStatement = 2;
constexpr size_t kClaimTenantStatement = 3;
constexpr size_t kClaimTablesStatement = 4;

std::vector<std::string> claimStatements(const FenceId& id, int64_t appliedSeq,
                                         const std::string& claimMark, int64_t nowMs);
std::vector<std::string> takeoverStatements(const FenceId& id, const SourceRow& theirs,
                                            int64_t appliedSeq, const std::string& mark,
                                            int64_t nowMs);
std::string guardStatement(const FenceId& id, int64_t epoch, int64_t appliedSeq,
                           const std::string& lastBatch);
// The guard a first claim carries the schema behind: see Engine::schemaWithClaim().
std::string freshClaimGuard(const FenceId& id, int64_t appliedSeq, const std::string& claimMark,
                            const std::vector<std::string>& tables);
std::string advanceStatement(const FenceId& id, int64_t appliedSeq, const std::string& batchId,
                             int64_t nowMs);
std::string sourceRowQuery(const FenceId& id);
SourceRow parseSourceRow(const Rows& rows);

}  // namespace d1sync
