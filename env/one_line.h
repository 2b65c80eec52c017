// Library messages (libpq's in particular) end in a newline and may span
// lines; errors of the environment are one line (they end up as the CLI's
// one-line error).
#pragma once

#include <string>

namespace dw::env {

inline std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace dw::env
