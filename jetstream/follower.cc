#include "jetstream/follower.h"

#include <nats/nats.h>

#include <algorithm>

namespace dw::jetstream {
namespace {

std::string Why(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (last && *last && out != last) out += std::string(" (") + last + ")";
  return out;
}

}  // namespace

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
    return Status::Unavailable("cannot connect to " + opts.url + ": " + Why(s));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = opts.timeout.count();
  s = natsConnection_JetStream(&im.js, im.nc, &jo);
  if (s != NATS_OK) {
    im.js = nullptr;
    return Status::IOError("JetStream context on " + opts.url + ": " + Why(s));
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
  s = js_PullSubscribe(&im.sub, im.js, topic.c_str(), nullptr, &jo, &so, &jerr);
  if (s != NATS_OK) {
    im.sub = nullptr;
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      return Status::NotFound("no stream " + topic + " at " + opts.url);
    }
    return Status::IOError("consumer on stream " + topic + " at " + opts.url + ": " + Why(s));
  }
  *out = std::move(f);
  return Status::OK();
}

Status Follower::Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out) {
  out->clear();
  if (max == 0 || gap_) return Status::OK();
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = static_cast<int>(max);
  // NoWait with an expiry (nats-server 2.9): the server sends what the
  // stream holds, up to the batch, and ends the request once it reached the
  // end of the stream having sent something ("408" after the messages); with
  // nothing to send it holds the request until a message comes or it
  // expires. Without NoWait it would hold a partial batch until it filled.
  req.NoWait = true;
  req.Expires = static_cast<int64_t>(std::max<int64_t>(wait.count(), 1)) * 1000 * 1000;
  natsMsgList list{nullptr, 0};
  natsStatus s = natsSubscription_FetchRequest(&list, impl_->sub, &req);
  if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return Status::OK();  // caught up
  if (s != NATS_OK) {
    return Status::IOError("fetching from stream " + topic_ + " at " + opts_.url + ": " + Why(s));
  }
  out->reserve(static_cast<size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
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
    // A stream's sequences have no holes here (nothing is deleted from it
    // while it is followed): a skipped one went to a fetch given up on.
    if (m.seq > next_seq_) {
      gap_ = true;
      break;
    }
    if (m.seq == next_seq_) ++next_seq_;
    out->push_back(std::move(m));
  }
  natsMsgList_Destroy(&list);
  return Status::OK();
}

}  // namespace dw::jetstream
