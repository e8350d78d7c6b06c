// The sync protocol: how a source with no D1 binding (a browser tab) replicates through a
// Worker it does not control. The source runs the engine's source half and sends data; the
// Worker's endpoint (sync_endpoint.hpp) runs the D1 half with its own schema, its own tenant
// and its own fence row, and never runs SQL or splices a name the client wrote.
//
// REQUESTS: POST <base>/<op>, one per engine flight (engine.hpp), in order, one at a time.
//
//   claim     {"v":1,"sourceId":S,"incarnation":I,"applied":N,"mark":M}
//   takeover  {"v":1,"sourceId":S,"incarnation":I,"applied":N,"mark":M,
//              "theirs":{"incarnation":I2,"epoch":E}}
//   probe     {"v":1,"sourceId":S}
//   apply     a changeset (changeset.hpp), content type application/vnd.d1sync.changeset
//   read      {"v":1,"sourceId":S,"incarnation":I,"reads":[R,...]}: what hydrate and verify
//             read of the caller's partition, each R one of
//               {"kind":"tables"}                        D1's allowed tables: (name, sql)
//               {"kind":"rows","table":T,"columns":[..],"after":K|null,"limit":N,
//                "inline":B}                             a page of rows in key order, each
//                                                        value an exact literal (render.hpp),
//                                                        or a marker when over B bytes
//               {"kind":"piece","table":T,"columns":[C],"key":K,"offset":O,"length":N}
//                                                        N bytes of one long value, as hex
//               {"kind":"range"|"list"|"split"|"fetch", ...}   verify.hpp's VerifyRead
//             answered only while I owns the partition; names are matched against the
//             allow-list and D1's schema, literals against the changeset grammar.
//
//   S is the caller's client id (the endpoint answers 403 otherwise). I is "<S>/<random id>":
//   the incarnation names its source, so the one fence row of a tenant partition (below) tells
//   which device owns it. A changeset's header carries the same S and I, the epoch and
//   watermark it expects, and the batch id the advance records.
//
// THE FENCE ROW: one per tenant partition, in D1's _d1sync_sources (fence.hpp), with source_id
// "endpoint:<tenant column>=<tenant literal>" (or "endpoint:" without a tenant). One source owns
// a partition at a time: a second device's claim finds another incarnation and is FENCED unless
// it takes over, which bumps the epoch so the first device's next batch is refused. Every apply
// is one atomic D1 batch: the guard (incarnation, epoch, applied_seq, last_batch), the data,
// the advance (applied_seq = header upto, last_batch = header batch).
//
// ANSWERS (JSON). 200:
//   claim     {"row":R|null,"owner":S2|null,"tenantColumn":C|null,"tables":[[name,sql],...],
//              "limits":{"requestBytes":N,"rowsPerRequest":N}}
//             R = {"incarnation","epoch","applied","last"}; owner: another source that holds
//             the tenant (a Durable Object replicating it), which refuses the claim; tables:
//             D1's CREATE TABLE text of each allowed table D1 has.
//   takeover, probe  {"row":R|null}
//   apply     {"applied":true,"replayed":B,"rowsRead":N,"rowsWritten":N}; replayed: the
//             batch had committed before (a resend after a lost answer), nothing was written.
//   read      {"results":[[[cell|null,...],...],...],"rowsRead":N}: each read's rows, every
//             cell as text.
// Any other status: {"error":{"code":C,"message":M}} naming what was wrong, nothing applied:
//   400 BAD_REQUEST     not a request of this protocol (the decoder's message says where)
//   401 UNAUTHORIZED    authenticate() found no valid caller
//   403 FORBIDDEN       a source or incarnation the caller does not own, a table outside the
//                       allow-list, the tenant column among the columns
//   409 FENCED          the fence refused the batch: another source owns the partition, or the
//                       watermark differs ("applied" and "last" carry D1's)
//   413 LIMIT           the request is too large (bytes or records) or D1 refused it as too
//                       large: the client splits it
//   422 SCHEMA          a table or column D1 lacks, a key that is not D1's
//   422 ROW             a constraint D1 enforces refused a row
//   429 RATE_LIMITED    too many requests: Retry-After says when to come back
//   503 TRANSIENT       D1 failed in a way worth retrying: Retry-After
//   500 INTERNAL        anything else, with D1's message
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "target.hpp"

namespace d1sync {

namespace sync_protocol {
constexpr const char* kClaim = "claim";
constexpr const char* kTakeover = "takeover";
constexpr const char* kProbe = "probe";
constexpr const char* kApply = "apply";
constexpr const char* kRead = "read";
constexpr const char* kChangesetType = "application/vnd.d1sync.changeset";
// The claim answer's extra result, after those of the claim batch (fence.hpp): one row of
// tenant column (NULL without one), requestBytes, rowsPerRequest.
constexpr size_t kClaimEndpointResult = 5;
}  // namespace sync_protocol

// A JSON control request (claim, takeover, probe) as the engine sends it.
std::string claimRequest(const std::string& sourceId, const std::string& incarnation,
                         int64_t applied, const std::string& mark);
std::string takeoverRequest(const std::string& sourceId, const std::string& incarnation,
                            int64_t applied, const std::string& mark,
                            const std::string& theirIncarnation, int64_t theirEpoch);
std::string probeRequest(const std::string& sourceId);
// A read request; `reads` are JSON objects as text (verifyReadJson, or the hydrate's).
std::string readRequest(const std::string& sourceId, const std::string& incarnation,
                        const std::vector<std::string>& reads);

// An endpoint's answer to `op` as the BatchResult the engine's flight expects: a claim's
// results at the claim batch's indexes (plus kClaimEndpointResult), a probe's and a
// takeover's source row where their batches put it. `status` 0: no answer (the request never
// reached the endpoint, or its answer was lost). `retryAfterMs`: the answer's Retry-After.
BatchResult endpointAnswer(const std::string& op, int status, const std::string& body,
                           int64_t retryAfterMs);

}  // namespace d1sync
