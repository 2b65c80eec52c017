// The pipelined skip-locked relay (`outbox relay --strategy skip-locked
// --pipeline`, RelayOptions::pipeline): one instance that claims batch n+1
// while batch n is being published.
//
// Serially, a batch of 1000 claims for ~7 ms (the DELETE ... RETURNING),
// publishes for ~4 ms and commits in ~0.2 ms, and the claim has to wait for
// the publish. Here the two overlap, on two connections A and B, each with
// its own claim transaction. A Step:
//   1. batch n is the one the previous Step claimed ahead (its transaction
//      open, its rows locked), else it is claimed now;
//   2. a helper thread claims batch n+1 on the other connection: SKIP LOCKED
//      passes over n's locked rows, so n+1 holds the next rows by id;
//   3. meanwhile this thread publishes n and, once the broker acknowledged
//      it, commits n;
//   4. n+1 stays claimed, its transaction open, for the next Step to publish.
// Publishes keep claim order: n+1 is published only after n was acknowledged
// AND committed. When n's publish or its commit fails, n is rolled back and
// so is n+1 (its rows come back too): nothing claimed after n is published
// before n's retry, which the next Step claims first again. That keeps one
// instance's per-key order exactly as the serial relay keeps it.
// A killed relay leaves both transactions uncommitted: both batches come back
// and are published again (at least once, as without the pipeline).
//
// Not with `--partition-by key` (CreateRelay refuses it): that claim waits on
// its own partition's locked rows instead of skipping them, so claiming n+1
// would wait for n's commit and nothing would overlap.
#pragma once

#include <memory>

#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewPipelinedSkipLockedRelay(const RelayOptions& opts);

}  // namespace dw::outbox
