#include "http_client.hpp"

#include <cctype>

namespace d1sync::cli {
namespace {

size_t onBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t onHeader(char* data, size_t size, size_t count, void* out) {
  const size_t n = size * count;
  std::string line(data, n);
  static const std::string kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower = line.substr(0, kName.size());
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string v = line.substr(kName.size());
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
      *static_cast<std::string*>(out) = v;
    }
  }
  return n;
}

int onProgress(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* f = static_cast<const std::atomic<bool>*>(flag);
  return f && f->load() ? 1 : 0;
}

}  // namespace

HttpClient::HttpClient(HttpTimeouts timeouts) : timeouts_(timeouts) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

HttpAnswer HttpClient::request(const std::string& url, const std::vector<std::string>& headers,
                               const std::string& body) {
  HttpAnswer a;
  if (!curl_) {
    a.transportError = "libcurl could not start";
    return a;
  }
  // The same handle keeps its connection between requests; only the per-request options
  // change.
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.connectMs));
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts_.requestMs));
  curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl_, CURLOPT_USERAGENT, "d1sync");
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (!body.empty()) list = curl_slist_append(list, "Content-Type: application/json");
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
  if (body.empty()) {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a.retryAfter);
  curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, interrupt_ ? 0L : 1L);
  curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, onProgress);
  curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, interrupt_);
  const CURLcode rc = curl_easy_perform(curl_);
  curl_slist_free_all(list);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    a.status = 0;
    a.aborted = rc == CURLE_ABORTED_BY_CALLBACK;
    a.transportError = curl_easy_strerror(rc);
    return a;
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
  return a;
}

}  // namespace d1sync::cli
