// Enums spelled as names on command lines and on the wire (crash points,
// protocol states): parsing a name back, and the "a|b|c" list of help texts
// and error messages, over the enum's table of values and its name function.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dw {

template <typename E, size_t N>
std::optional<E> ParseEnumName(std::string_view name, const E (&all)[N],
                               const char* (*name_of)(E)) {
  for (E e : all) {
    if (name == name_of(e)) return e;
  }
  return std::nullopt;
}

// "a|b|c", in table order.
template <typename E, size_t N>
std::string JoinEnumNames(const E (&all)[N], const char* (*name_of)(E)) {
  std::string out;
  for (E e : all) {
    if (!out.empty()) out += '|';
    out += name_of(e);
  }
  return out;
}

}  // namespace dw
