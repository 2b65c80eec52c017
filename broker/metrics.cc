#include "broker/metrics.h"

#include <sstream>

namespace dw::broker {
namespace {

// Label values are route names and topics ([A-Za-z0-9._:-]); escape anyway.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::ObserveRequest(const std::string& route, int code, double seconds) {
  std::lock_guard lock(mu_);
  Route& r = routes_[route];
  ++r.codes[code];
  ++r.count;
  r.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++r.buckets[i];
      break;
    }
  }
}

std::string Metrics::Render(const Store::Stats& store) const {
  std::ostringstream o;
  {
    std::lock_guard lock(mu_);
    o << "# HELP dw_broker_requests_total HTTP requests answered, by route and status code.\n"
      << "# TYPE dw_broker_requests_total counter\n";
    for (const auto& [name, r] : routes_) {
      for (const auto& [code, n] : r.codes) {
        o << "dw_broker_requests_total{route=\"" << Escape(name) << "\",code=\"" << code << "\"} "
          << n << "\n";
      }
    }
    o << "# HELP dw_broker_request_duration_seconds Time from request read to response sent.\n"
      << "# TYPE dw_broker_request_duration_seconds histogram\n";
    for (const auto& [name, r] : routes_) {
      std::string label = "route=\"" + Escape(name) + "\"";
      uint64_t cum = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cum += r.buckets[i];
        o << "dw_broker_request_duration_seconds_bucket{" << label << ",le=\"" << kBuckets[i]
          << "\"} " << cum << "\n";
      }
      o << "dw_broker_request_duration_seconds_bucket{" << label << ",le=\"+Inf\"} " << r.count
        << "\n";
      o << "dw_broker_request_duration_seconds_sum{" << label << "} " << r.sum << "\n";
      o << "dw_broker_request_duration_seconds_count{" << label << "} " << r.count << "\n";
    }
  }
  auto counter = [&o](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << " " << v << "\n";
  };
  auto gauge = [&o](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << v << "\n";
  };
  counter("dw_broker_fsyncs_total", "fdatasync calls on the log.", fsyncs.load());
  counter("dw_broker_duplicates_total",
          "Messages deduplicated: their id was already stored (redeliveries).", duplicates.load());
  counter("dw_broker_bytes_written_total", "Bytes appended to the log.", bytes_written.load());
  counter("dw_broker_records_written_total", "Records appended to the log.",
          records_written.load());
  counter("dw_broker_write_batches_total", "Group-commit batches written.", write_batches.load());
  counter("dw_broker_write_errors_total", "Batches whose write or sync failed.",
          write_errors.load());
  counter("dw_broker_tls_handshake_failures_total",
          "TLS handshakes that failed (no or untrusted client certificate, not TLS, timeout).",
          tls_handshake_failures.load());
  gauge("dw_broker_records_replayed", "Records replayed from the log at start.",
        records_replayed.load());
  gauge("dw_broker_log_bytes", "Size of the log file.", log_bytes.load());
  gauge("dw_broker_prepared_transactions", "Transactions prepared and not yet resolved.",
        store.prepared);
  o << "# HELP dw_broker_topic_messages Messages stored per topic.\n"
    << "# TYPE dw_broker_topic_messages gauge\n";
  for (const auto& [topic, n] : store.topic_sizes) {
    o << "dw_broker_topic_messages{topic=\"" << Escape(topic) << "\"} " << n << "\n";
  }
  return o.str();
}

}  // namespace dw::broker
