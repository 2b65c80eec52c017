#include "common/one_line.h"

namespace dw {

std::string OneLine(std::string s, OneLineMode mode) {
  switch (mode) {
    case OneLineMode::kJoin:
      for (char& c : s) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s;
    case OneLineMode::kFirstLine: {
      std::string line = s.substr(0, s.find('\n'));
      if (line.starts_with("ERROR:")) line = line.substr(6);
      line.erase(0, line.find_first_not_of(' '));
      return line;
    }
    case OneLineMode::kScreen:
      for (char& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      }
      return s;
  }
  return s;
}

}  // namespace dw
