#include "cli/pgq_setup.h"

#include "env/layout.h"
#include "env/pgqd_daemon.h"

namespace dw::cli {

void EnsurePgq(const Globals& g, const std::string& dsn, const outbox::PgqTickerSettings* settings,
               bool pgqd, std::ostream& out) {
  // The extension first: pgqd only ticks databases that have it.
  Check(outbox::EnsurePgqQueue(dsn, settings));
  if (settings) {
    out << "pgq: queue " << outbox::kPgqQueue << ", consumer " << outbox::kPgqConsumer << ", "
        << outbox::DescribeTickerSettings(*settings) << "\n";
  }
  if (!pgqd) return;
  env::PgqdSettings ps;
  env::PgqdDaemon d{env::Layout(g.state_dir)};
  pid_t pid = 0;
  bool started = false;
  Check(d.Ensure(dsn, ps, &pid, &started, nullptr));
  out << "pgq: pgqd " << (started ? "started" : "is running") << " (pid " << pid
      << ", ticker_period " << ps.ticker_period_s << " s, " << d.ini_path() << ")\n"
      << std::flush;
}

}  // namespace dw::cli
