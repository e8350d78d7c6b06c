// One HTTPS connection to an API, reused across requests (keep-alive), through libcurl: TLS
// verification on, a connect timeout and a whole-request timeout, and the response headers a
// client acts on (Retry-After). Nothing here logs a request: headers carry the API token.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace d1sync::cli {

struct HttpAnswer {
  long status = 0;  // 0: no answer (transportError says why)
  std::string body;
  std::string retryAfter;      // the Retry-After header, verbatim, when present
  std::string transportError;  // libcurl's message when the request got no answer
  bool aborted = false;        // stopped by the interrupt flag
};

struct HttpTimeouts {
  int64_t connectMs = 10000;
  int64_t requestMs = 60000;  // D1 allows a batch 30 s; the rest is the network's
};

class HttpClient {
 public:
  explicit HttpClient(HttpTimeouts timeouts = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `headers` are full header lines ("Authorization: Bearer …"). `body` empty: a GET.
  HttpAnswer request(const std::string& url, const std::vector<std::string>& headers,
                     const std::string& body);
  // When set, a request in flight is abandoned (its answer lost) as soon as libcurl notices.
  void setInterrupt(const std::atomic<bool>* flag) { interrupt_ = flag; }

 private:
  CURL* curl_ = nullptr;
  HttpTimeouts timeouts_;
  const std::atomic<bool>* interrupt_ = nullptr;
};

}  // namespace d1sync::cli
