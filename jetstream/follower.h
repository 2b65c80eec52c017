// Follower: reads a JetStream stream as it grows, the way a subscriber does,
// through a consumer of its own rather than a request per message (the
// client's Read, made for verify): an ephemeral pull consumer that starts at
// a given stream sequence, with no acks (AckNone) and no durable name, so it
// leaves nothing behind and changes nothing in the stream; verify reads the
// same messages afterwards. Each Next is one fetch request for a batch,
// which the server holds until it has a message to send, so a caught-up
// Follower learns of a new message when it is stored, without polling.
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
  // `wait` of 20 ms or more: the server's side of the request expires 10 ms
  // before it, so the "none" answer comes back before the client gives up
  // (a late answer is not lost to the caller: see gap()).
  Status Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out);

  // The sequence after the last message returned (where a new Follower
  // would go on).
  uint64_t next_seq() const { return next_seq_; }

  // True once a fetch skipped stream sequences: the server sent messages to
  // an earlier fetch after this client had given up waiting for it (a busy
  // machine can delay its answer past the wait), and with no acks it never
  // sends them again. Next then returns the messages before the gap only;
  // open a new Follower from next_seq() to read the rest.
  bool gap() const { return gap_; }

 private:
  struct Impl;
  Follower(const ClientOptions& opts, std::string topic, uint64_t from);

  ClientOptions opts_;
  std::string topic_;
  uint64_t next_seq_;
  bool gap_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw::jetstream
