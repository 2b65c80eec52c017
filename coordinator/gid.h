// Global transaction ids of the coordinator.
//
//   gid     dw:<coordinator-id>:<seq>          what the decision log records
//   branch  dw:<coordinator-id>:<seq>[.<k>]    what participant k prepares
//
// The coordinator id lets recovery recognise its own transactions (prefix
// "dw:<id>:") and leave every other coordinator's alone. The ':' after the
// id makes the prefix exact: "dw:c1:" is not a prefix of "dw:c10:5".
//
// Why branches: a Postgres cluster keeps ONE namespace of prepared gids for
// all its databases, so two shards that live in the same cluster cannot both
// prepare "dw:c1:5". Postgres participant k > 0 therefore prepares
// "dw:c1:5.k"; the first Postgres participant and the broker (a namespace of
// its own) use the gid itself, so the common two-participant setup shows
// exactly the documented gid everywhere. Everything fits in the 200 bytes of
// Postgres' limit (the id is at most 64 bytes).
//
// For the same reason a coordinator id must be unique per Postgres cluster
// and per broker, not just per database: two coordinators "c1" writing to
// two databases of one cluster would collide on "dw:c1:1" (the second
// PREPARE fails with a duplicate gid and votes abort).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dw::coord {

// [A-Za-z0-9_-]{1,64}: no ':' or '.', which delimit the gid's fields.
bool ValidCoordinatorId(std::string_view id);

std::string GidPrefix(std::string_view coordinator_id);  // "dw:<id>:"
std::string FormatGid(std::string_view coordinator_id, uint64_t seq);
// The name participant branch `branch` (0 = the gid itself) prepares under.
std::string BranchGid(std::string_view gid, int branch);

struct ParsedGid {
  std::string coordinator_id;
  uint64_t seq = 0;
  int branch = 0;
  std::string gid;  // without the branch suffix
};
// Parses a gid or a branch name; false when it is not one of ours in form.
bool ParseGid(std::string_view s, ParsedGid* out);

}  // namespace dw::coord
