// Postgres array literals, for passing a whole column as ONE parameter:
// `WHERE id = ANY($1::bigint[])`, or `INSERT ... SELECT * FROM
// unnest($1::bigint[], $2::text[])`. One prepared statement with three array
// parameters is parsed and planned once, where a VALUES list of 1000 rows
// with 3000 parameters is parsed and planned again for every batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dw {

// "{1,2,3}": integers need no quoting.
std::string BigintArray(const std::vector<int64_t>& v);

// "{"a","b \"c\""}": every element double-quoted, with `"` and `\` escaped by
// a backslash, so any text (commas, braces, quotes, "NULL", unicode) reads
// back as itself. Elements must not contain NUL, which Postgres text cannot
// hold anyway.
std::string TextArray(const std::vector<std::string>& v);

}  // namespace dw
