// OneLine: a message made to fit on one line.
//
// Errors end up as the CLI's one-line error (`dualwrite: error: ...`), in
// log lines and in the cells of a lesson's tables, but library messages
// (libpq's in particular) end in a newline and may span several lines. What
// happens to the other lines depends on where the text goes:
//   kJoin       every line break (\n, \r) becomes a space and trailing
//               spaces go (a libpq message's final newline): the whole
//               message, on one line. For errors.
//   kFirstLine  only the first line, without a leading "ERROR:" and the
//               spaces after it: a Postgres error's headline, its DETAIL,
//               HINT and CONTEXT lines dropped.
//   kScreen     line breaks and tabs become spaces and nothing else
//               changes, so the text keeps its width: for a cell of a table
//               on the screen, where a tab would break the alignment.
#pragma once

#include <string>

namespace dw {

enum class OneLineMode { kJoin, kFirstLine, kScreen };

std::string OneLine(std::string s, OneLineMode mode = OneLineMode::kJoin);

}  // namespace dw
