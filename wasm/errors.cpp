#include "errors.hpp"

namespace d1sync {

const char* codeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::None:
      return "";
    case ErrorCode::D1Transient:
      return "D1_TRANSIENT";
    case ErrorCode::D1Limit:
      return "D1_LIMIT";
    case ErrorCode::D1Constraint:
      return "D1_CONSTRAINT";
    case ErrorCode::Schema:
      return "SCHEMA";
    case ErrorCode::Fenced:
      return "FENCED";
    case ErrorCode::Config:
      return "CONFIG";
    case ErrorCode::Internal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

ErrorCode codeFromName(const std::string& name) {
  for (ErrorCode c : {ErrorCode::D1Transient, ErrorCode::D1Limit, ErrorCode::D1Constraint,
                      ErrorCode::Schema, ErrorCode::Fenced, ErrorCode::Config, ErrorCode::Internal})
    if (name == codeName(c)) return c;
  return name.empty() ? ErrorCode::None : ErrorCode::Internal;
}

std::vector<std::string> errorCodeNames() {
  std::vector<std::string> out;
  for (int c = static_cast<int>(ErrorCode::None) + 1; c <= static_cast<int>(ErrorCode::Internal);
       ++c)
    out.push_back(codeName(static_cast<ErrorCode>(c)));
  return out;
}

namespace {

bool has(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

const char* const kTransient[] = {
    "Network connection lost",
    "D1 DB is overloaded",
    "D1 DB reset because its code was updated",
    "Internal error in D1 DB storage caused object to be reset",
    "Cannot resolve D1 DB due to transient issue on remote node",
    "D1 DB storage operation exceeded timeout",
};

const char* const kLimit[] = {"statement too long",     "too many SQL variables", "out of memory",
                              "string or blob too big", "SQLITE_TOOBIG",          "SQLITE_NOMEM"};

// Also what a half-applied schema change looks like when redone.
const char* const kSchema[] = {"no such table", "no such column", "has no column named",
                               "duplicate column name", "already exists"};

const char* const kRow[] = {"constraint failed", "SQLITE_CONSTRAINT", "datatype mismatch",
                            "SQLITE_MISMATCH"};

}  // namespace

D1Failure classifyD1Error(const std::string& m) {
  if (has(m, "d1sync: FENCED")) return D1Failure::Fenced;  // JSON path error text varies by version
  if (has(m, "Durable Object was reset and rolled back") && has(m, "FOREIGN KEY constraint failed"))
    return D1Failure::DeferredFk;
  for (const char* t : kTransient)
    if (has(m, t)) return D1Failure::Transient;
  for (const char* t : kLimit)
    if (has(m, t)) return D1Failure::Limit;
  for (const char* t : kSchema)
    if (has(m, t)) return D1Failure::Schema;
  for (const char* t : kRow)
    if (has(m, t)) return D1Failure::Row;
  return D1Failure::Other;
}

bool mayHaveCommitted(D1Failure failure) {
  return failure == D1Failure::Transient || failure == D1Failure::Other;
}

ErrorCode codeFor(D1Failure f) {
  switch (f) {
    case D1Failure::Fenced:
      return ErrorCode::Fenced;
    case D1Failure::DeferredFk:
    case D1Failure::Row:
      return ErrorCode::D1Constraint;
    case D1Failure::Transient:
      return ErrorCode::D1Transient;
    case D1Failure::Limit:
      return ErrorCode::D1Limit;
    case D1Failure::Schema:
      return ErrorCode::Schema;
    case D1Failure::Other:
      return ErrorCode::Internal;
    case D1Failure::Refused:
      return ErrorCode::Config;
  }
  return ErrorCode::Internal;
}

}  // namespace d1sync
