// Member: one participant as the coordinator drives it.
#pragma once

#include <memory>
#include <string>

#include "participants/participant.h"
#include "participants/postgres_participant.h"

namespace dw::coord {

struct Member {
  std::shared_ptr<Participant> participant;
  // Branch suffix of the gid this member prepares under (gid.h): 0 for the
  // first Postgres database and the broker, k for Postgres database k > 0.
  int branch = 0;
  // Set for a Postgres member that can commit in one phase (the last
  // resource of --lrco). Not owned: points into `participant`.
  PostgresParticipant* one_phase = nullptr;
};

}  // namespace dw::coord
