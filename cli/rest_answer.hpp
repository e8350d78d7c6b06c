// The D1 REST API's envelope, both ways: a batch of statements as the body of
// POST …/d1/database/{id}/raw, and the API's answer as the engine's BatchResult.
//
// Answer: {success, errors: [{code, message}], messages, result: [{results: {columns, rows},
// success, meta: {rows_read, rows_written, …}}]} with one result per statement. An SQL error
// is HTTP 400 with code 7500 and D1's own message, which is classified like a binding's
// (classifyD1Error); the statement that failed is not named, so it is reported unknown (-1).
// HTTP 401/403/404 refuse the caller for good (D1Failure::Refused: the engine stops with
// CONFIG): a wrong token, a token without D1 rights or another account, no such database.
// 429 and 5xx are transient, with the Retry-After the API sent as the retry's floor; 413 is a
// request too big for the API (split). No answer at all (a timeout, a dropped connection) is
// transient too: the batch may have committed, which the engine's fence settles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "target.hpp"

namespace d1sync::cli {

// {"batch":[{"sql":…},…]}: each statement separately, so nothing on the API's side has to
// split SQL text.
std::string batchBody(const std::vector<std::string>& statements);

// The API's answer to a batch of `statements` statements.
BatchResult decodeAnswer(uint64_t id, size_t statements, const HttpAnswer& answer, int64_t nowMs);

// Retry-After as milliseconds from `nowMs`: delta-seconds or an HTTP date; 0 when absent or
// not understood.
int64_t retryAfterMs(const std::string& header, int64_t nowMs);

// `text` with every occurrence of `secret` replaced, so a token echoed back by a server or a
// proxy never reaches output.
std::string scrub(std::string text, const std::string& secret);

}  // namespace d1sync::cli
