// Reading fields of JSON that came from outside. nlohmann's value() and operator[] throw on a
// type mismatch, and with exceptions off (JSON_NOEXCEPTION) a throw is an abort: a request or an
// answer holding {"v":"1"} must not take the module down. These read a field of the type asked
// for and give the fallback for anything else (a missing field, another type, not an object).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace d1sync {

// Every JSON document the module reads is parsed here, as a string_view: nlohmann::json
// instantiates its whole parser for each input type, and one instantiation keeps the .wasm
// smaller. A document that does not parse is a discarded value (is_discarded()), never a throw.
inline nlohmann::json parseJson(std::string_view text) {
  return nlohmann::json::parse(text, nullptr, false);
}

inline const nlohmann::json& jsonField(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNone;
  if (!j.is_object()) return kNone;
  auto it = j.find(key);
  return it == j.end() ? kNone : *it;
}

inline std::string textField(const nlohmann::json& j, const char* key,
                             const std::string& fallback = "") {
  const auto& v = jsonField(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

inline int64_t intField(const nlohmann::json& j, const char* key, int64_t fallback) {
  const auto& v = jsonField(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

inline bool boolField(const nlohmann::json& j, const char* key, bool fallback) {
  const auto& v = jsonField(j, key);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

}  // namespace d1sync
