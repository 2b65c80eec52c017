#include "jetstream/client.h"

#include <nats/nats.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "jetstream/nats_error.h"

namespace dw::jetstream {
namespace {

// A stream name may not hold '.', '*', '>', white space or a path separator;
// the stream is named after the topic, so the topic must fit.
bool ValidStreamName(const std::string& t) {
  if (t.empty() || t.size() > 255) return false;
  for (char c : t) {
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || c <= ' ' || c == 0x7f)
      return false;
  }
  return true;
}

}  // namespace

struct Client::Impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::unordered_set<std::string> streams;  // ensured on this connection

  // Filled by OnAck on the library's thread while a batch is in flight.
  std::mutex mu;
  uint64_t stored = 0;
  uint64_t duplicates = 0;
  uint64_t errors = 0;
  std::string first_error;

  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    {
      std::lock_guard<std::mutex> l(self->mu);
      if (pa) {
        // A duplicate is an event the stream already holds: delivered.
        if (pa->Duplicate) {
          ++self->duplicates;
        } else {
          ++self->stored;
        }
      } else {
        ++self->errors;
        if (self->first_error.empty()) {
          self->first_error = pae && pae->ErrText ? pae->ErrText
                              : pae               ? natsStatus_GetText(pae->Err)
                                                  : "no acknowledgement";
        }
      }
    }
    natsMsg_Destroy(msg);  // ours, says the callback's contract
  }
};

Client::Client(const ClientOptions& opts) : opts_(opts), impl_(std::make_unique<Impl>()) {}

Client::~Client() { Close(); }

void Client::Close() {
  if (impl_->js) jsCtx_Destroy(impl_->js);
  impl_->js = nullptr;
  if (impl_->nc) {
    natsConnection_Close(impl_->nc);
    natsConnection_Destroy(impl_->nc);
  }
  impl_->nc = nullptr;
  impl_->streams.clear();
}

Status Client::Connect(const ClientOptions& opts, std::unique_ptr<Client>* out) {
  if (opts.url.rfind("nats://", 0) != 0) {
    return Status::InvalidArgument("not a nats:// URL: '" + opts.url + "'");
  }
  std::unique_ptr<Client> c(new Client(opts));
  Status s = c->Open();
  if (!s.ok()) return s;
  *out = std::move(c);
  return Status::OK();
}

Status Client::Open() {
  if (impl_->js) return Status::OK();
  natsOptions* no = nullptr;
  natsStatus s = natsOptions_Create(&no);
  if (s == NATS_OK) s = natsOptions_SetURL(no, opts_.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(no, opts_.timeout.count());
  // No reconnects inside the library: a lost connection fails the batch in
  // flight and the next one connects afresh, so acks of an abandoned batch
  // can never be counted for the next.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(no, false);
  if (s == NATS_OK) s = natsOptions_SetName(no, "dualwrite");
  if (s == NATS_OK) s = natsConnection_Connect(&impl_->nc, no);
  natsOptions_Destroy(no);
  if (s != NATS_OK) {
    impl_->nc = nullptr;
    return Status::Unavailable("cannot connect to " + opts_.url + ": " + NatsError(s));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = opts_.timeout.count();
  jo.PublishAsync.MaxPending = std::max(1, opts_.max_pending);
  jo.PublishAsync.AckHandler = &Impl::OnAck;
  jo.PublishAsync.AckHandlerClosure = impl_.get();
  // How long a publish waits while max_pending are unacknowledged.
  jo.PublishAsync.StallWait = opts_.timeout.count();
  s = natsConnection_JetStream(&impl_->js, impl_->nc, &jo);
  if (s != NATS_OK) {
    impl_->js = nullptr;
    Close();
    return Status::IOError("JetStream context on " + opts_.url + ": " + NatsError(s));
  }
  return Status::OK();
}

Status Client::EnsureStream(const std::string& topic) {
  if (!ValidStreamName(topic)) {
    return Status::InvalidArgument("topic '" + topic +
                                   "' cannot name a JetStream stream (no '.', '*', '>', spaces)");
  }
  Status st = Open();
  if (!st.ok()) return st;
  if (impl_->streams.count(topic)) return Status::OK();
  const int64_t window_ns = static_cast<int64_t>(opts_.dedupe_window.count()) * 1000000;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, impl_->js, topic.c_str(), nullptr, &jerr);
  const char* subjects[] = {topic.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = topic.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = window_ns;
  if (s == NATS_OK) {
    bool same = si->Config && si->Config->Duplicates == window_ns;
    jsStreamInfo_Destroy(si);
    si = nullptr;
    if (!same) s = js_UpdateStream(&si, impl_->js, &cfg, nullptr, &jerr);
  } else if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    s = js_AddStream(&si, impl_->js, &cfg, nullptr, &jerr);
  }
  if (si) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) {
    Status out = Status::IOError("stream " + topic + " on " + opts_.url + ": " + NatsError(s));
    Close();
    return out;
  }
  impl_->streams.insert(topic);
  return Status::OK();
}

Status Client::Publish(const std::string& topic, const std::vector<OutMessage>& msgs,
                       PublishResult* result) {
  *result = PublishResult{};
  Status st = EnsureStream(topic);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stored = impl_->duplicates = impl_->errors = 0;
    impl_->first_error.clear();
  }
  natsStatus s = NATS_OK;
  size_t sent = 0;
  for (const auto& m : msgs) {
    natsMsg* msg = nullptr;
    s = natsMsg_Create(&msg, topic.c_str(), nullptr, m.payload.data(),
                       static_cast<int>(m.payload.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, kKeyHeader, m.key.c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = m.id.c_str();  // the Nats-Msg-Id header
    po.MaxWait = opts_.timeout.count();
    if (s == NATS_OK) s = js_PublishMsgAsync(impl_->js, &msg, &po);
    if (msg) natsMsg_Destroy(msg);  // still ours only when the publish failed
    if (s != NATS_OK) break;
    ++sent;
  }
  natsStatus done = NATS_OK;
  if (s == NATS_OK) {
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = opts_.timeout.count();
    done = js_PublishAsyncComplete(impl_->js, &wait);
  }
  std::string first_error;
  uint64_t errors = 0;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    result->stored = impl_->stored;
    result->duplicates = impl_->duplicates;
    errors = impl_->errors;
    first_error = impl_->first_error;
  }
  Status out;
  if (s != NATS_OK) {
    out = Status::Unavailable("publishing to " + topic + " at " + opts_.url + " failed after " +
                              std::to_string(sent) + " of " + std::to_string(msgs.size()) +
                              " messages: " + NatsError(s));
  } else if (done != NATS_OK) {
    out = Status::Timeout("acks for " + topic + " at " + opts_.url + ": " + NatsError(done) + " (" +
                          std::to_string(result->stored + result->duplicates) + " of " +
                          std::to_string(msgs.size()) + " acknowledged)");
  } else if (errors > 0 || result->stored + result->duplicates != msgs.size()) {
    out = Status::IOError(std::to_string(errors) + " of " + std::to_string(msgs.size()) +
                          " messages to " + topic +
                          " not acknowledged: " + (first_error.empty() ? "no ack" : first_error));
  }
  if (!out.ok()) Close();  // a fresh connection for the next batch
  return out;
}

Status Client::StreamState(const std::string& topic, uint64_t* messages, uint64_t* last_seq) {
  *messages = *last_seq = 0;
  Status st = Open();
  if (!st.ok()) return st;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, impl_->js, topic.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return Status::OK();
  if (s != NATS_OK)
    return Status::IOError("stream " + topic + " on " + opts_.url + ": " + NatsError(s));
  *messages = si->State.Msgs;
  *last_seq = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return Status::OK();
}

Status Client::DeleteStream(const std::string& topic) {
  Status st = Open();
  if (!st.ok()) return st;
  impl_->streams.erase(topic);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(impl_->js, topic.c_str(), nullptr, &jerr);
  if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return Status::OK();
  return Status::IOError("deleting stream " + topic + " on " + opts_.url + ": " + NatsError(s));
}

Status Client::Read(const std::string& topic, uint64_t from, size_t max,
                    std::vector<StoredMessage>* out, uint64_t* next) {
  out->clear();
  if (from < 1) from = 1;
  *next = from;
  uint64_t count = 0, last = 0;
  Status st = StreamState(topic, &count, &last);
  if (!st.ok()) return st;
  // One request per sequence: a stream read once, by verify, where simple
  // beats fast. A sequence with no message (deleted) is skipped.
  for (uint64_t seq = from; seq <= last && out->size() < max; ++seq) {
    natsMsg* msg = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&msg, impl_->js, topic.c_str(), seq, nullptr, &jerr);
    *next = seq + 1;
    if (jerr == JSNoMessageFoundErr) continue;
    if (s != NATS_OK) {
      return Status::IOError("reading " + topic + " #" + std::to_string(seq) + " at " + opts_.url +
                             ": " + NatsError(s));
    }
    StoredMessage m;
    m.seq = seq;
    const char* v = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &v) == NATS_OK && v) m.id = v;
    v = nullptr;
    if (natsMsgHeader_Get(msg, kKeyHeader, &v) == NATS_OK && v) m.key = v;
    const char* data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    if (data && len > 0) m.payload.assign(data, static_cast<size_t>(len));
    natsMsg_Destroy(msg);
    out->push_back(std::move(m));
  }
  return Status::OK();
}

}  // namespace dw::jetstream
