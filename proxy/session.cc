#include "proxy/session.h"

#include <algorithm>
#include <cmath>

namespace dw::proxy {
namespace {

constexpr size_t kChunk = 16 * 1024;
constexpr size_t kMaxQueued = 4 << 20;  // per direction; beyond it reading pauses

// Read size under a bandwidth limit: about 1/20 s worth of bytes, so the
// pacer releases small steps instead of one 16 KiB burst at a time.
size_t ReadSize(uint64_t bandwidth) {
  if (bandwidth == 0) return kChunk;
  return static_cast<size_t>(std::clamp<uint64_t>(bandwidth / 20, 1, kChunk));
}

void SetNoDelay(tcp::socket& s) {
  // The proxy must not add Nagle's delay of its own on top of the
  // configured latency: it forwards what it read as soon as it is due.
  beast::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

void ResetSocket(tcp::socket& s) {
  beast::error_code ignored;
  if (!s.is_open()) return;
  s.set_option(asio::socket_base::linger(true, 0), ignored);  // close() sends RST
  s.close(ignored);
}

}  // namespace

Session::Session(tcp::socket client, std::shared_ptr<ProxyState> state, bool black)
    : client_(std::move(client)),
      upstream_(client_.get_executor()),
      state_(std::move(state)),
      up_(true, &client_, &upstream_, client_.get_executor()),
      down_(false, &upstream_, &client_, client_.get_executor()),
      black_(black),
      rng_(std::random_device{}()) {
  up_.buf.resize(kChunk);
  down_.buf.resize(kChunk);
}

Session::~Session() {
  if (id_ != 0) state_->Unregister(id_);
}

void Session::Start() {
  id_ = state_->Register(shared_from_this());
  asio::dispatch(client_.get_executor(), [self = shared_from_this()] {
    if (self->state_->faults().reset) {
      // Accepted just before `reset` was set, registered just after the
      // proxy listed the sessions to reset: reset it here.
      self->state_->resets.fetch_add(1);
      return self->Abort();
    }
    if (self->black_) {
      // A partition: the connection is accepted, but nothing reaches the upstream.
      self->down_.read_done = true;
      return self->Read(self->up_);
    }
    SetNoDelay(self->client_);
    asio::async_connect(
        self->upstream_, self->state_->upstream(),
        [self](const beast::error_code& ec, const tcp::endpoint&) { self->OnConnect(ec); });
  });
}

void Session::Reset() {
  asio::post(client_.get_executor(), [self = shared_from_this()] {
    if (self->closed_) return;
    self->state_->resets.fetch_add(1);
    self->Abort();
  });
}

void Session::OnConnect(const beast::error_code& ec) {
  if (closed_) return;
  if (ec) {
    // The upstream refused: the client, already connected to us, is reset -
    // the closest a proxy can come to passing the refusal on.
    state_->upstream_failures.fetch_add(1);
    return Abort();
  }
  SetNoDelay(upstream_);
  Read(up_);
  Read(down_);
}

void Session::Read(Pipe& p) {
  if (closed_ || p.reading || p.read_done || !p.from->is_open()) return;
  if (!black_ && p.queued >= kMaxQueued) return;  // resumed by OnWrite
  const ProxyFaults f = state_->faults();
  const size_t n =
      black_ ? kChunk : ReadSize(p.up ? f.up.bandwidth_bytes_per_s : f.down.bandwidth_bytes_per_s);
  p.reading = true;
  p.from->async_read_some(asio::buffer(p.buf.data(), n),
                          [self = shared_from_this(), &p](const beast::error_code& ec, size_t got) {
                            self->OnRead(p, ec, got);
                          });
}

void Session::OnRead(Pipe& p, const beast::error_code& ec, size_t n) {
  p.reading = false;
  if (closed_) return;
  if (ec && ec != asio::error::eof) return Abort();  // reset, or worse: reset the other end too
  if (ec) p.read_done = true;
  const ProxyFaults f = state_->faults();
  if (f.blackhole && !black_) GoBlack(&p);
  if (black_) {
    if (ec) return OnBlackEof(p);
    state_->bytes_dropped.fetch_add(n);
    return Read(p);
  }
  const auto due = Clock::now() + NextDelay(p.up ? f.up : f.down);
  if (ec) {
    p.queue.push_back(Chunk{{}, due, true});
    return Pump(p);
  }
  p.queue.push_back(Chunk{std::string(p.buf.data(), n), due, false});
  p.queued += n;
  Pump(p);
  Read(p);
}

void Session::Pump(Pipe& p) {
  if (closed_ || p.writing || p.queue.empty() || black_) return;
  Chunk& c = p.queue.front();
  const auto now = Clock::now();
  const auto start = std::max(c.due, p.next_free);
  if (start > now) {
    p.writing = true;
    p.timer.expires_at(start);
    p.timer.async_wait([self = shared_from_this(), &p](const beast::error_code&) {
      p.writing = false;
      self->Pump(p);
    });
    return;
  }
  // Checked again at the moment of writing: a blackhole also swallows what
  // was already read but still held back by latency.
  const ProxyFaults f = state_->faults();
  if (f.blackhole) return GoBlack(nullptr);
  if (c.fin) {
    beast::error_code ignored;
    p.to->shutdown(tcp::socket::shutdown_send, ignored);
    p.finished = true;
    p.queue.pop_front();
    if (up_.finished && down_.finished) Close();
    return;
  }
  const uint64_t bw = p.up ? f.up.bandwidth_bytes_per_s : f.down.bandwidth_bytes_per_s;
  if (bw > 0) {
    // This write "occupies the link" for size/bandwidth seconds.
    p.next_free = std::max(now, p.next_free) +
                  std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(c.bytes.size()) / bw));
  } else {
    p.next_free = now;
  }
  p.writing = true;
  asio::async_write(*p.to, asio::buffer(c.bytes),
                    [self = shared_from_this(), &p](const beast::error_code& ec, size_t n) {
                      self->OnWrite(p, ec, n);
                    });
}

void Session::OnWrite(Pipe& p, const beast::error_code& ec, size_t n) {
  p.writing = false;
  // Counted first: what went out went out, even if the connection was
  // closed (or blacked out) before this handler ran.
  (p.up ? state_->bytes_up : state_->bytes_down).fetch_add(n);
  // GoBlack() emptied the queue while this write was on the wire; whatever
  // became of it, the connection carries nothing any more.
  if (closed_ || black_) return;
  if (ec) return Abort();
  p.queued -= p.queue.front().bytes.size();
  p.queue.pop_front();
  Pump(p);
  Read(p);
}

void Session::GoBlack(Pipe* reading_now) {
  black_ = true;
  for (Pipe* p : {&up_, &down_}) {
    for (const Chunk& c : p->queue) state_->bytes_dropped.fetch_add(c.bytes.size());
    p->queue.clear();
    p->queued = 0;
    // A write already handed to the socket finishes (it is on the wire);
    // a wait for a due time is cut short and then finds nothing to write.
    p->timer.cancel();
  }
  // Keep draining both sides so neither end is held back by a full window
  // (the pipe whose read completion called us resumes by itself).
  if (reading_now != &up_) Read(up_);
  if (reading_now != &down_) Read(down_);
}

void Session::OnBlackEof(Pipe& p) {
  if (p.up) return Abort();  // the client gave up: see session.h
  // The upstream closed; across the partition the client cannot learn it.
  beast::error_code ignored;
  upstream_.close(ignored);
}

Session::Clock::duration Session::NextDelay(const DirectionFaults& d) {
  double ms = d.latency_ms;
  if (d.jitter_ms > 0) ms += std::uniform_real_distribution<double>(0, d.jitter_ms)(rng_);
  if (ms <= 0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

void Session::Abort() {
  closed_ = true;
  up_.timer.cancel();
  down_.timer.cancel();
  ResetSocket(client_);
  ResetSocket(upstream_);
}

void Session::Close() {
  closed_ = true;
  up_.timer.cancel();
  down_.timer.cancel();
  beast::error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
}

}  // namespace dw::proxy
