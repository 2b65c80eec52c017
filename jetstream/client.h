// Client: one connection to a NATS JetStream server, for publishing a relay's
// batch and for reading a stream back (verify).
//
// A topic is one stream of the same name with the topic as its only subject,
// file storage, and a duplicate window: the server drops a message whose
// Nats-Msg-Id it saw within the window and acknowledges it as a duplicate.
// The event id is the Nats-Msg-Id, so a relay that republishes a batch
// (killed after publishing, before settling) adds nothing within the window;
// past the window the same event is stored again.
//
// Durability (nats-server 2.9): an acknowledgement means the message is in
// the server's file store, which is synced about every 60 s; there is no
// per-message sync option (that came in 2.10). An acknowledged message
// survives a kill of the server process, not a crash of the OS.
//
// Not thread-safe: one owner (one relay instance, one verify).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::jetstream {

struct ClientOptions {
  std::string url;  // nats://127.0.0.1:PORT
  // Connecting, each stream request, and the wait for a batch's acks.
  std::chrono::milliseconds timeout{5000};
  // Publishes in flight at most; a batch larger than this waits for acks
  // before it sends more.
  int max_pending = 4096;
  // The duplicate window of the streams this client creates or updates.
  std::chrono::milliseconds dedupe_window{120000};
};

struct OutMessage {
  std::string id;  // Nats-Msg-Id: the event id
  std::string key;
  std::string payload;
};

struct StoredMessage {
  uint64_t seq = 0;  // the stream sequence
  std::string id;    // its Nats-Msg-Id
  std::string key;
  std::string payload;
};

struct PublishResult {
  uint64_t stored = 0;      // acknowledged as new messages
  uint64_t duplicates = 0;  // acknowledged as duplicates (dropped within the window)
};

class Client {
 public:
  ~Client();
  static Status Connect(const ClientOptions& opts, std::unique_ptr<Client>* out);

  // Creates the topic's stream when it does not exist; sets its duplicate
  // window to the client's when it differs. Remembered per topic.
  Status EnsureStream(const std::string& topic);

  // Publishes `msgs` asynchronously (at most max_pending unacknowledged) and
  // waits for every ack. OK only when each one was acknowledged, as stored
  // or as a duplicate; on an error some may be stored, which the duplicate
  // window makes harmless to publish again. After an error the connection is
  // dropped and the next call reconnects.
  Status Publish(const std::string& topic, const std::vector<OutMessage>& msgs,
                 PublishResult* result);

  // Messages of the topic's stream from sequence `from` (1 is the first),
  // at most `max`; *next is where to continue. An empty batch: the end.
  // A stream that does not exist reads as empty.
  Status Read(const std::string& topic, uint64_t from, size_t max, std::vector<StoredMessage>* out,
              uint64_t* next);

  // The stream's message count and last sequence (0, 0 when it does not exist).
  Status StreamState(const std::string& topic, uint64_t* messages, uint64_t* last_seq);

  // Deletes the topic's stream and its messages; one that does not exist is
  // OK. A purge would keep the sequences going, and Read would then ask for
  // every purged one in turn: a stream created again starts at 1.
  Status DeleteStream(const std::string& topic);

  const ClientOptions& options() const { return opts_; }

 private:
  struct Impl;
  explicit Client(const ClientOptions& opts);
  Status Open();
  void Close();

  ClientOptions opts_;
  std::unique_ptr<Impl> impl_;
};

// The header carrying an event's key.
inline constexpr const char* kKeyHeader = "Dw-Key";

}  // namespace dw::jetstream
