#include "planner.hpp"

#include <algorithm>

namespace d1sync {

namespace {

// The interior of a tuple: "(1,'a')" -> "1,'a'", the comma-separated form keys take.
std::string_view inner(std::string_view tuple) {
  return tuple.size() >= 2 ? tuple.substr(1, tuple.size() - 2) : tuple;
}

// Fills a job up to the batch's limits, one record at a time.
class JobFiller {
 public:
  JobFiller(const Limits& L, std::deque<Job>& out)
      : L_(L),
        out_(out),
        maxStatements_(static_cast<double>(
            std::max(4, std::min(L.maxStatementsPerBatch, L.queriesPerInvocation) - 3))),
        maxRows_(std::max<size_t>(1, L.rowsPerBatchByTime())) {}

  // Adds `statements` worth of statements and `bytes` bytes (a row when `row`) for the record
  // at index `index` of the slice kind/table given.
  void add(Slice::Kind kind, size_t table, size_t index, double statements, size_t bytes,
           bool row) {
    const bool newGroup =
        job_.slices.empty() || job_.slices.back().kind != kind || job_.slices.back().table != table;
    if (newGroup) statements += 1;
    if (records_ > 0 && (statements_ + statements > maxStatements_ ||
                         bytes_ + bytes > L_.maxBatchBytes || rows_ + (row ? 1 : 0) > maxRows_ ||
                         (L_.maxRecordsPerBatch && records_ + 1 > L_.maxRecordsPerBatch))) {
      close();
      statements += newGroup ? 0 : 1;
    }
    statements_ += statements;
    bytes_ += bytes;
    rows_ += row ? 1 : 0;
    ++records_;
    if (!job_.slices.empty()) {
      Slice& last = job_.slices.back();
      if (last.kind == kind && last.table == table && last.first + last.count == index) {
        ++last.count;
        return;
      }
    }
    job_.slices.push_back(Slice{kind, table, index, 1});
  }

  void addStatement(std::string sql) {
    const size_t bytes = sql.size() + 200;
    if (records_ > 0 && (statements_ + 1 > maxStatements_ || bytes_ + bytes > L_.maxBatchBytes))
      close();
    statements_ += 1;
    bytes_ += bytes;
    ++records_;
    job_.statements.push_back(std::move(sql));
  }

  void finish() {
    if (records_ > 0 || out_.empty()) close();
  }

 private:
  void close() {
    out_.push_back(std::move(job_));
    job_ = Job{};
    statements_ = 0;
    bytes_ = rows_ = records_ = 0;
  }
  const Limits& L_;
  std::deque<Job>& out_;
  const double maxStatements_;
  const size_t maxRows_;
  Job job_;
  double statements_ = 0;
  size_t bytes_ = 0, rows_ = 0, records_ = 0;
};

}  // namespace

size_t Job::records() const {
  size_t n = statements.size();
  for (const auto& s : slices) n += s.count;
  return n;
}

size_t Job::rows() const {
  size_t n = 0;
  for (const auto& s : slices)
    if (s.kind == Slice::Upsert) n += s.count;
  return n;
}

std::deque<Job> Planner::plan(const Changeset& changes,
                              const std::vector<TargetShape>& shapes) const {
  std::deque<Job> jobs;
  JobFiller fill(limits_, jobs);
  const double perStatement = static_cast<double>(limits_.maxStatementBytes) * 0.9;
  // Upserts share a statement by bytes and by the VDBE row cap.
  const double rowShare =
      1.0 / static_cast<double>(std::max<size_t>(1, limits_.vdbeBudget() / 128));
  for (size_t i = changes.tables.size(); i-- > 0;) {
    const TableChanges& t = changes.tables[i];
    for (size_t r = 0; r < t.rangeDeletes.size(); ++r) fill.add(Slice::Range, i, r, 1, 200, false);
    for (size_t r = 0; r < t.deletes.size(); ++r) {
      const size_t bytes = t.deletes[r].size();
      fill.add(Slice::Delete, i, r, static_cast<double>(bytes) / perStatement, bytes, false);
    }
  }
  for (size_t i = 0; i < changes.tables.size(); ++i) {
    const TableChanges& t = changes.tables[i];
    const size_t room = chunker_.rowRoom(shapes[i]);
    for (size_t r = 0; r < t.upserts.size(); ++r) {
      const size_t bytes = t.upserts[r].size();
      double statements = std::max(static_cast<double>(bytes) / perStatement, rowShare);
      // Too long for one statement: its large values go in parts, an UPDATE each.
      if (bytes > room)
        statements =
            2.0 + static_cast<double>(bytes) / (2.0 * static_cast<double>(limits_.partBytes));
      fill.add(Slice::Upsert, i, r, statements, bytes, true);
    }
  }
  fill.finish();
  return jobs;
}

std::deque<Job> Planner::planStatements(std::vector<std::string> statements) const {
  std::deque<Job> jobs;
  JobFiller fill(limits_, jobs);
  for (auto& s : statements) fill.addStatement(std::move(s));
  fill.finish();
  return jobs;
}

std::vector<std::string> Planner::render(const Job& job, const Changeset& changes,
                                         const std::vector<TargetShape>& shapes) const {
  std::vector<std::string> out = job.statements;
  std::vector<std::string_view> views;
  auto append = [&](std::vector<std::string>&& more) {
    for (auto& s : more) out.push_back(std::move(s));
  };
  for (const Slice& s : job.slices) {
    const TableChanges& t = changes.tables[s.table];
    const TargetShape& shape = shapes[s.table];
    views.clear();
    if (s.kind == Slice::Range) {
      for (size_t r = s.first; r < s.first + s.count; ++r) {
        const RangeDelete& range = t.rangeDeletes[r];
        auto bound = [](const std::optional<std::string>& b) -> std::optional<std::string_view> {
          if (!b) return std::nullopt;
          return inner(*b);
        };
        out.push_back(chunker_.rangeDelete(shape, bound(range.low), bound(range.high)));
      }
    } else if (s.kind == Slice::Delete) {
      for (size_t r = s.first; r < s.first + s.count; ++r) views.push_back(inner(t.deletes[r]));
      append(chunker_.deletes(shape, views, job.maxRows));
    } else {
      // Rows too long for one statement go alone, their large values appended in parts.
      const size_t room = job.allParts ? 0 : chunker_.rowRoom(shape);
      std::vector<size_t> long_;
      for (size_t r = s.first; r < s.first + s.count; ++r) {
        std::string_view tuple = t.upserts[r];
        if (tuple.size() > room) {
          long_.push_back(r);
        } else {
          views.push_back(tuple);
        }
      }
      append(chunker_.upserts(shape, views, job.maxRows));
      for (size_t r : long_) {
        RowLiteral row;
        std::vector<std::string_view> values;
        splitTuple(t.upserts[r], values);
        for (auto v : values) row.values.emplace_back(v);
        for (size_t k = 0; k < t.keyWidth; ++k) row.key += (k ? "," : "") + row.values[k];
        chunker_.fitRow(shape, row, room);
        append(chunker_.upsertWithParts(shape, row));
      }
    }
  }
  return out;
}

void splitJob(Job job, Job& first, Job& second) {
  first = Job{};
  second = Job{};
  const size_t half = job.records() / 2;
  size_t taken = 0;
  for (auto& st : job.statements) (taken++ < half ? first : second).statements.push_back(st);
  for (const Slice& s : job.slices) {
    if (taken >= half) {
      second.slices.push_back(s);
    } else if (taken + s.count <= half) {
      first.slices.push_back(s);
      taken += s.count;
    } else {
      const size_t k = half - taken;
      first.slices.push_back(Slice{s.kind, s.table, s.first, k});
      second.slices.push_back(Slice{s.kind, s.table, s.first + k, s.count - k});
      taken = half;
    }
  }
  first.maxRows = second.maxRows = job.maxRows;
}

std::optional<LoneRecord> loneRecord(const Job& job, const Changeset& changes) {
  if (!job.statements.empty() || job.slices.size() != 1 || job.slices[0].count != 1) return {};
  const Slice& s = job.slices[0];
  const TableChanges& t = changes.tables[s.table];
  LoneRecord r;
  r.table = t.name;
  if (s.kind == Slice::Range) return {};
  if (s.kind == Slice::Delete) {
    r.key = std::string(inner(t.deletes[s.first]));
    return r;
  }
  std::vector<std::string_view> values;
  splitTuple(t.upserts[s.first], values);
  for (size_t k = 0; k < t.keyWidth && k < values.size(); ++k)
    r.key += std::string(k ? "," : "") + std::string(values[k]);
  r.upsert = true;
  return r;
}

ChangesetStatus jobChangeset(const Job& job, const Changeset& changes,
                             const ChangesetHeader& header, Changeset& out) {
  out = Changeset{};
  out.header = header;
  for (size_t i = 0; i < changes.tables.size(); ++i) {
    const TableChanges& t = changes.tables[i];
    TableChanges part;
    part.name = t.name;
    part.columns = t.columns;
    part.rowidKey = t.rowidKey;
    part.keyWidth = t.keyWidth;
    bool any = false;
    // The format wants a table's range deletes, then its deletes, then its upserts.
    for (Slice::Kind kind : {Slice::Range, Slice::Delete, Slice::Upsert}) {
      for (const Slice& s : job.slices) {
        if (s.table != i || s.kind != kind) continue;
        any = true;
        for (size_t r = s.first; r < s.first + s.count; ++r) {
          ChangesetStatus st;
          if (kind == Slice::Range) {
            const RangeDelete& range = t.rangeDeletes[r];
            auto view = [](const std::optional<std::string>& b) -> std::optional<std::string_view> {
              if (!b) return std::nullopt;
              return std::string_view(*b);
            };
            st = part.addRangeDelete(view(range.low), view(range.high));
          } else if (kind == Slice::Delete) {
            st = part.addDelete(t.deletes[r]);
          } else {
            st = part.addUpsert(t.upserts[r]);
          }
          if (!st.ok()) {
            out = Changeset{};
            return st;
          }
        }
      }
    }
    if (any) out.tables.push_back(std::move(part));
  }
  return {};
}

TargetShape shapeFor(const TableChanges& table, const std::string& d1Name,
                     const std::optional<std::string>& tenantColumn,
                     const std::string& tenantLiteral) {
  TargetShape s;
  s.table = d1Name;
  s.columns = table.columns;
  s.keyColumns.assign(table.columns.begin(),
                      table.columns.begin() + static_cast<std::ptrdiff_t>(table.keyWidth));
  s.tenantColumn = tenantColumn;
  s.tenantLiteral = tenantLiteral;
  return s;
}

}  // namespace d1sync
