#include "jetstream/follower.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>

#include "jetstream/nats_error.h"

namespace dw::jetstream {

struct Follower::Impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;

  ~Impl() {
    // Unsubscribing deletes the ephemeral consumer on the server.
    if (sub) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    if (js) jsCtx_Destroy(js);
    if (nc) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
  }
};

Follower::Follower(const ClientOptions& opts, std::string topic, uint64_t from)
    : opts_(opts), topic_(std::move(topic)), next_seq_(from), impl_(std::make_unique<Impl>()) {}

Follower::~Follower() = default;

Status Follower::Open(const ClientOptions& opts, const std::string& topic, uint64_t from,
                      std::unique_ptr<Follower>* out) {
  if (opts.url.rfind("nats://", 0) != 0) {
    return Status::InvalidArgument("not a nats:// URL: '" + opts.url + "'");
  }
  if (from < 1) from = 1;
  std::unique_ptr<Follower> f(new Follower(opts, topic, from));
  Impl& im = *f->impl_;
  natsOptions* no = nullptr;
  natsStatus s = natsOptions_Create(&no);
  if (s == NATS_OK) s = natsOptions_SetURL(no, opts.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(no, opts.timeout.count());
  // A lost connection is an error for the owner, who opens a new Follower
  // from next_seq(): no reconnect (and no consumer to find again) inside.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(no, false);
  if (s == NATS_OK) s = natsOptions_SetName(no, "dualwrite-follower");
  if (s == NATS_OK) s = natsConnection_Connect(&im.nc, no);
  natsOptions_Destroy(no);
  if (s != NATS_OK) {
    im.nc = nullptr;
    return Status::Unavailable("cannot connect to " + opts.url + ": " + NatsError(s));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = opts.timeout.count();
  s = natsConnection_JetStream(&im.js, im.nc, &jo);
  if (s != NATS_OK) {
    im.js = nullptr;
    return Status::IOError("JetStream context on " + opts.url + ": " + NatsError(s));
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = topic.c_str();  // the topic's stream, its only subject the topic
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = from;
  // No acks: a read-only observer; nothing is redelivered, and the stream
  // (limits retention) keeps every message whatever a consumer does.
  so.Config.AckPolicy = js_AckNone;
  // A consumer whose connection was lost goes after 30 s without requests.
  so.Config.InactiveThreshold = static_cast<int64_t>(30) * 1000 * 1000 * 1000;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  // A push consumer into a synchronous subscription, read with NextMsg. A
  // pull consumer's Fetch in libnats 3.4.1 wrote past the end of its
  // message list now and then (found with valgrind: messages left from an
  // earlier fetch added to a full batch), which corrupted the heap.
  s = js_SubscribeSync(&im.sub, im.js, topic.c_str(), &jo, &so, &jerr);
  // No pending limit: a tail that falls behind holds the messages rather
  // than have the library drop them as a slow consumer's.
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(im.sub, -1, -1);
  if (s != NATS_OK) {
    im.sub = nullptr;
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      return Status::NotFound("no stream " + topic + " at " + opts.url);
    }
    return Status::IOError("consumer on stream " + topic + " at " + opts.url + ": " + NatsError(s));
  }
  *out = std::move(f);
  return Status::OK();
}

namespace {

// One delivered message as a StoredMessage; the message is destroyed.
StoredMessage Take(natsMsg* msg) {
  StoredMessage m;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta) {
    m.seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &v) == NATS_OK && v) m.id = v;
  v = nullptr;
  if (natsMsgHeader_Get(msg, kKeyHeader, &v) == NATS_OK && v) m.key = v;
  const char* data = natsMsg_GetData(msg);
  const int len = natsMsg_GetDataLength(msg);
  if (data && len > 0) m.payload.assign(data, static_cast<size_t>(len));
  natsMsg_Destroy(msg);
  return m;
}

}  // namespace

Status Follower::Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out) {
  out->clear();
  if (max == 0) return Status::OK();
  // The first message: up to `wait` for it; then what has already arrived.
  int64_t timeout_ms = std::max<int64_t>(wait.count(), 1);
  while (out->size() < max) {
    if (!out->empty()) {
      int pending = 0;
      if (natsSubscription_GetPending(impl_->sub, &pending, nullptr) != NATS_OK || pending <= 0) {
        break;
      }
      timeout_ms = opts_.timeout.count();  // already here: NextMsg returns at once
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsSubscription_NextMsg(&msg, impl_->sub, timeout_ms);
    if (s == NATS_TIMEOUT) break;  // caught up
    if (s != NATS_OK) {
      return Status::IOError("reading stream " + topic_ + " at " + opts_.url + ": " + NatsError(s));
    }
    StoredMessage m = Take(msg);
    // A stream's sequences have no holes here (nothing is deleted from it
    // while it is followed): a skipped one was not delivered to this
    // consumer.
    if (m.seq > next_seq_) gaps_.emplace_back(next_seq_, m.seq - 1);
    if (m.seq >= next_seq_) next_seq_ = m.seq + 1;
    out->push_back(std::move(m));
  }
  return Status::OK();
}

}  // namespace dw::jetstream
