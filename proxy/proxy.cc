#include "proxy/proxy.h"

#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "proxy/listener.h"
#include "proxy/session.h"
#include "proxy/state.h"

namespace dw::proxy {
namespace {

ControlReply Error(int status, const std::string& msg) {
  nlohmann::json j{{"error", msg}};
  return ControlReply{status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), ""};
}

Status ListenAddress(const HostPort& hp, const std::string& what, tcp::endpoint* ep) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(hp.host == "localhost" ? "127.0.0.1" : hp.host, ec);
  if (ec) return Status::InvalidArgument(what + ": not an IP address: " + hp.host);
  *ep = tcp::endpoint(addr, hp.port);
  return Status::OK();
}

}  // namespace

Status Proxy::Start(const ProxyOptions& opts, std::unique_ptr<Proxy>* out) {
  if (opts.threads < 1 || opts.threads > 64) {
    return Status::InvalidArgument("threads must be in [1, 64]");
  }
  if (Status s = ValidateFaults(opts.faults); !s.ok()) return s;
  if (opts.upstream.host.empty() || opts.upstream.port == 0) {
    return Status::InvalidArgument("the upstream must be HOST:PORT with a port > 0");
  }
  tcp::endpoint listen_ep, control_ep;
  if (Status s = ListenAddress(opts.listen, "listen", &listen_ep); !s.ok()) return s;
  if (opts.control) {
    if (Status s = ListenAddress(*opts.control, "control", &control_ep); !s.ok()) return s;
  }

  std::unique_ptr<Proxy> p(new Proxy());
  p->opts_ = opts;
  p->ioc_ = std::make_unique<asio::io_context>(opts.threads);

  // Resolved once: a name that moves during a run is not a fault we model.
  beast::error_code ec;
  tcp::resolver resolver(*p->ioc_);
  auto results = resolver.resolve(opts.upstream.host, std::to_string(opts.upstream.port), ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot resolve upstream " + opts.upstream.ToString() + ": " +
                                   (ec ? ec.message() : "no address"));
  }
  std::vector<tcp::endpoint> upstream;
  for (const auto& r : results) upstream.push_back(r.endpoint());

  p->state_ = std::make_shared<ProxyState>(std::move(upstream), opts.faults);
  p->listener_ = std::make_shared<Listener>(*p->ioc_, p->state_);
  if (Status s = p->listener_->Open(listen_ep); !s.ok()) return s;
  // Refusing from the start: the port is taken (and a port 0 chosen) first,
  // so a later refuse=false reopens where clients expect it.
  if (opts.faults.refuse) p->listener_->Close();
  p->port_ = p->listener_->endpoint().port();
  if (opts.control) {
    Proxy* self = p.get();
    p->control_ = std::make_unique<ControlServer>(
        *p->ioc_, [self](const std::string& m, const std::string& t, const std::string& b) {
          return self->HandleControl(m, t, b);
        });
    if (Status s = p->control_->Start(control_ep); !s.ok()) {
      p->Stop();
      return s;
    }
    p->control_port_ = p->control_->endpoint().port();
  }

  // Keeps run() from returning while nothing is pending (e.g. refusing, no
  // control endpoint): Stop() lets go of it.
  p->work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      p->ioc_->get_executor());
  for (int i = 0; i < opts.threads; ++i) {
    p->threads_.emplace_back([ioc = p->ioc_.get()] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          // A handler threw (allocation failure and the like): log it and
          // keep serving the other connections.
          std::fprintf(stderr, "dualwrite proxy: io thread: %s\n", e.what());
        }
      }
    });
  }
  *out = std::move(p);
  return Status::OK();
}

Proxy::~Proxy() { Stop(); }

void Proxy::Stop() {
  {
    // Not held while joining: a control request on an io thread may be
    // waiting for set_mu_ (it then finds stopped_ and returns).
    std::lock_guard lock(set_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (listener_) listener_->Close();
  if (control_) control_->Stop();
  work_.reset();
  if (ioc_) ioc_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // The io_context goes last but one: destroying it destroys the handlers
  // still queued, and with them the sessions and listeners they hold (their
  // sockets close). The state outlives it for stats() after Stop.
  control_.reset();
  listener_.reset();
  ioc_.reset();
}

Status Proxy::SetFaults(const ProxyFaults& f) {
  std::lock_guard lock(set_mu_);
  return SetFaultsLocked(f);
}

Status Proxy::MergeFaults(std::string_view json) {
  std::lock_guard lock(set_mu_);
  ProxyFaults f = state_->faults();
  if (Status s = MergeFaultsJson(json, &f); !s.ok()) return s;
  return SetFaultsLocked(f);
}

Status Proxy::SetFaultsLocked(const ProxyFaults& f) {
  if (Status s = ValidateFaults(f); !s.ok()) return s;
  if (stopped_) return Status::FailedPrecondition("the proxy is stopped");
  const ProxyFaults old = state_->faults();
  if (f.refuse && !old.refuse) listener_->Close();
  if (!f.refuse && old.refuse) {
    if (Status s = listener_->Reopen(); !s.ok()) return s;
  }
  state_->set_faults(f);
  // After set_faults: a session registering from now on sees reset=true by
  // itself (Session::Start checks), the ones before it are in this list.
  if (f.reset) {
    for (const auto& s : state_->OpenSessions()) s->Reset();
  }
  return Status::OK();
}

ProxyFaults Proxy::faults() const { return state_->faults(); }

ProxyStats Proxy::stats() const { return state_->stats(); }

uint16_t Proxy::port() const { return port_; }

uint16_t Proxy::control_port() const { return control_port_; }

std::string Proxy::StartupLine() const {
  std::string line = "dualwrite proxy: listening on " +
                     HostPort{opts_.listen.host, port_}.ToString() + ", upstream " +
                     opts_.upstream.ToString();
  if (opts_.control) {
    line += ", control on " + HostPort{opts_.control->host, control_port_}.ToString();
  } else {
    line += ", no control endpoint";
  }
  return line;
}

ControlReply Proxy::HandleControl(const std::string& method, const std::string& target,
                                  const std::string& body) {
  std::string_view path = target;
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path == "/faults") {
    if (method == "GET") return ControlReply{200, FaultsToJson(faults()), ""};
    if (method != "POST") return ControlReply{405, Error(405, "use GET or POST").body, "GET, POST"};
    Status s = MergeFaults(body);
    if (!s.ok()) return Error(s.code() == Status::Code::kUnavailable ? 503 : 400, s.message());
    return ControlReply{200, FaultsToJson(faults()), ""};
  }
  if (path == "/stats" || path == "/healthz") {
    if (method != "GET") return ControlReply{405, Error(405, "use GET").body, "GET"};
    if (path == "/healthz") return ControlReply{200, "{\"status\":\"ok\"}", ""};
    return ControlReply{200, StatsToJson(stats()), ""};
  }
  return Error(
      404, "no such route: " + std::string(path) + " (GET|POST /faults, GET /stats, GET /healthz)");
}

}  // namespace dw::proxy
