// Follower: reads a JetStream stream as it grows, the way a subscriber does,
// through a consumer of its own rather than a request per message (the
// client's Read, made for verify): an ephemeral push consumer that starts
// at a given stream sequence, with no acks (AckNone) and no durable name, so
// it leaves nothing behind and changes nothing in the stream; verify reads
// the same messages afterwards. The server pushes each message as it is
// stored into this connection's subscription; Next takes what has arrived,
// so a caught-up Follower learns of a new message when it is stored,
// without polling. (A pull consumer's Fetch in libnats 3.4.1 wrote past the
// end of its message list now and then and corrupted the heap.)
//
// The consumer lives on this connection: the server deletes it when the
// connection goes (the libnats subscription's close deletes it at once; a
// lost connection leaves it until its inactivity threshold). After an
// error, open a new Follower from next_seq().
//
// Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "jetstream/client.h"

namespace dw::jetstream {

class Follower {
 public:
  ~Follower();

  // A consumer of the topic's stream from sequence `from` (1: the start),
  // on a connection of its own (opts.url, opts.timeout). NotFound when the
  // stream does not exist (yet).
  static Status Open(const ClientOptions& opts, const std::string& topic, uint64_t from,
                     std::unique_ptr<Follower>* out);

  // The messages stored since the last Next, in stream order, at most `max`,
  // each with its stream sequence. It returns once the server has sent what
  // the stream holds (a partial batch does not wait to fill); caught up, it
  // waits up to `wait` for the next message (an empty batch: none came).
  Status Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out);

  // The sequence after the last message returned (where a new Follower
  // would go on).
  uint64_t next_seq() const { return next_seq_; }

  // Stream sequences the consumer skipped, [first, last], in the order met.
  // None should; but a consumer without acks never sends a message twice,
  // so one the server failed to deliver would be lost to it. Next returns
  // every message it got, and the caller reads these by sequence
  // (Client::Read). Taking them clears the list.
  std::vector<std::pair<uint64_t, uint64_t>> TakeGaps() {
    std::vector<std::pair<uint64_t, uint64_t>> g;
    g.swap(gaps_);
    return g;
  }

 private:
  struct Impl;
  Follower(const ClientOptions& opts, std::string topic, uint64_t from);

  ClientOptions opts_;
  std::string topic_;
  uint64_t next_seq_;
  std::vector<std::pair<uint64_t, uint64_t>> gaps_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw::jetstream
