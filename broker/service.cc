#include "broker/service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "broker/router.h"

namespace dw::broker {

struct BrokerService::Parts {
  ServiceOptions opts;
  int lock_fd = -1;
  Store store;
  Metrics metrics;
  std::unique_ptr<Faults> faults;
  std::unique_ptr<RecordFile> log;
  RecordFile::ReplayReport report;
  std::unique_ptr<Writer> writer;
  std::unique_ptr<Router> router;
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<HttpServer> server;

  ~Parts() {
    // Handlers queued in the io_context hold sessions, which point at the
    // router, faults and metrics: the io_context goes before them.
    if (writer) writer->Stop();
    server.reset();
    ioc.reset();
    router.reset();
    writer.reset();
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }
};

namespace {

// Takes DIR/broker.lock (flock, released by the kernel when the process dies,
// SIGKILL included) and writes our pid into it for the error message of the next one.
Status LockDataDir(const std::string& dir, int* fd_out) {
  std::string path = dir + "/broker.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (e == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, n) : "?";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::FailedPrecondition("data dir " + dir + " is in use by another broker (pid " +
                                        pid + ")");
    }
    return Status::IOError("cannot lock " + path + ": " + std::strerror(e));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a courtesy for error messages; the lock is what matters.
  }
  *fd_out = fd;
  return Status::OK();
}

}  // namespace

BrokerService::~BrokerService() = default;

Status BrokerService::Open(const ServiceOptions& opts, std::unique_ptr<BrokerService>* out) {
  if (opts.data_dir.empty()) return Status::InvalidArgument("a data dir is required");
  if (opts.threads < 1) return Status::InvalidArgument("threads must be >= 1");
  if (Status s = Faults::Validate(opts.faults); !s.ok()) return s;
  {
    // A malformed listen address is bad input: refuse it before the data
    // dir is created (HttpServer::Bind, which checks it too, comes last).
    boost::system::error_code ec;
    asio::ip::make_address(opts.host == "localhost" ? "127.0.0.1" : opts.host, ec);
    if (ec) return Status::InvalidArgument("--listen: not an IP address: " + opts.host);
  }

  std::unique_ptr<BrokerService> svc(new BrokerService());
  svc->p_ = std::make_unique<Parts>();
  Parts& p = *svc->p_;
  p.opts = opts;

  std::error_code ec;
  std::filesystem::create_directories(opts.data_dir, ec);
  if (ec || !std::filesystem::is_directory(opts.data_dir)) {
    return Status::IOError("cannot use data dir " + opts.data_dir + ": " +
                           (ec ? ec.message() : "not a directory"));
  }
  if (Status s = LockDataDir(opts.data_dir, &p.lock_fd); !s.ok()) return s;

  uint64_t index = 0;
  Status s = RecordFile::Open(
      opts.data_dir + "/broker.log",
      [&](std::string_view payload) {
        Record r;
        Status d = DecodeRecord(payload, &r);
        if (d.ok()) d = p.store.Apply(std::move(r));
        if (!d.ok()) {
          return Status::Corruption("record #" + std::to_string(index) + " of " + opts.data_dir +
                                    "/broker.log: " + d.message());
        }
        ++index;
        return Status::OK();
      },
      &p.log, &p.report);
  if (!s.ok()) return s;
  // The log grows by 1 MiB of synced zeros at a time, so that each batch's
  // fdatasync writes data only, not also the file's new size (RecordFile,
  // "Preallocation"). A MiB costs one 2-20 ms write + fdatasync, every
  // 1,500-2,500 2PC orders or every 5 relay batches of 1000 messages.
  p.log->set_preallocate(uint64_t{1} << 20);
  p.metrics.records_replayed.store(p.report.records);
  p.metrics.log_bytes.store(p.log->size());

  p.faults = std::make_unique<Faults>(opts.faults);
  p.writer =
      std::make_unique<Writer>(&p.store, p.log.get(), opts.fsync, p.faults.get(), &p.metrics);
  p.router =
      std::make_unique<Router>(&p.store, p.writer.get(), p.faults.get(), &p.metrics, opts.token);
  p.ioc = std::make_unique<asio::io_context>(opts.threads);
  p.server =
      std::make_unique<HttpServer>(*p.ioc, p.router.get(), p.faults.get(), &p.metrics, opts.http);
  s = p.server->Bind(opts.host, opts.port);
  if (!s.ok()) return s;
  *out = std::move(svc);
  return Status::OK();
}

tcp::endpoint BrokerService::endpoint() const { return p_->server->local_endpoint(); }

std::string BrokerService::StartupLine() const {
  Store::Stats st = p_->store.GetStats();
  uint64_t messages = 0;
  for (const auto& [topic, n] : st.topic_sizes) messages += n;
  auto ep = endpoint();
  return "dualwrite broker: listening on " + ep.address().to_string() + ":" +
         std::to_string(ep.port()) + ", data dir " + p_->opts.data_dir + ", fsync " +
         FsyncPolicyName(p_->opts.fsync) + ", replayed " + std::to_string(p_->report.records) +
         " records (" + std::to_string(messages) + " messages, " + std::to_string(st.prepared) +
         " prepared), truncated " + std::to_string(p_->report.truncated_bytes) + " torn bytes";
}

void BrokerService::Shutdown() {
  std::lock_guard lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

Status BrokerService::Run() {
  Parts& p = *p_;
  // A vanished client must be an error code, not a death; and a file size
  // limit (RLIMIT_FSIZE) must be EFBIG -> 507, not SIGXFSZ.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);

  asio::signal_set signals(*p.ioc, SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int) {
    if (!ec) Shutdown();
  });
  // Keeps run() from returning while nothing is pending on the io_context
  // itself: a session waiting for the writer thread has no operation there,
  // only the writer's future post() of its answer (after SIGTERM closed the
  // acceptor, that would otherwise leave the threads nothing to wait for).
  auto work = asio::make_work_guard(*p.ioc);
  p.writer->Start();
  p.server->Start();

  std::vector<std::thread> threads;
  for (int i = 0; i < p.opts.threads; ++i) {
    threads.emplace_back([this, &p] {
      try {
        p.ioc->run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dualwrite broker: io thread failed: %s\n", e.what());
        Shutdown();
      }
    });
  }

  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stop_; });
  }

  // Drain: no new connections; every response from now on closes its
  // connection, so open keep-alive connections carry at most one more
  // request each and the in-flight count soon reaches zero. Requests already
  // read (including ones sleeping on injected latency) are finished and
  // answered; only after that (or a deadline) does the writer stop.
  p.server->StopAccepting();
  p.server->BeginDrain();
  auto wait_inflight = [&p](std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (p.server->inflight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  wait_inflight(std::chrono::seconds(5));
  p.writer->Stop();  // answers whatever is still queued (503 for later submissions)
  wait_inflight(std::chrono::seconds(1));
  beast::error_code ignored;
  signals.cancel(ignored);
  work.reset();
  p.ioc->stop();
  for (auto& t : threads) t.join();
  return Status::OK();
}

}  // namespace dw::broker
