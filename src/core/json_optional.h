// std::optional in nlohmann::json (3.11.2, Debian 12's, has no built-in support): nullopt is
// null, and null reads back as nullopt. Settings structs use it for values that may be absent
// (a file only some choices need).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>

namespace nlohmann {

template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value)
      j = *value;
    else
      j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null())
      value.reset();
    else
      value = j.get<T>();
  }
};

}  // namespace nlohmann
