#include "proxy/faults.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace dw::proxy {
namespace {

using nlohmann::json;

constexpr double kMaxDelayMs = 3600e3;
constexpr uint64_t kMaxBandwidth = 1'000'000'000'000ull;

json DirectionJson(const DirectionFaults& d) {
  return json{{"latency_ms", d.latency_ms},
              {"jitter_ms", d.jitter_ms},
              {"bandwidth_bytes_per_s", d.bandwidth_bytes_per_s}};
}

Status MergeDirection(const std::string& name, const json& j, DirectionFaults* d) {
  if (!j.is_object()) return Status::InvalidArgument("'" + name + "' must be an object");
  for (const auto& [k, v] : j.items()) {
    const std::string where = name + "." + k;
    if (k == "latency_ms" || k == "jitter_ms") {
      if (!v.is_number()) return Status::InvalidArgument(where + " must be a number");
      (k == "latency_ms" ? d->latency_ms : d->jitter_ms) = v.get<double>();
    } else if (k == "bandwidth_bytes_per_s") {
      // A float like 1e5 is fine; a negative or fractional rate is not.
      if (!v.is_number()) return Status::InvalidArgument(where + " must be a number");
      double r = v.get<double>();
      if (!(r >= 0) || r > static_cast<double>(kMaxBandwidth) || r != std::floor(r)) {
        return Status::InvalidArgument(where + " must be an integer in [0, 1e12]");
      }
      d->bandwidth_bytes_per_s =
          v.is_number_unsigned() ? v.get<uint64_t>() : static_cast<uint64_t>(r);
    } else {
      return Status::InvalidArgument("unknown fault '" + where + "'");
    }
  }
  return Status::OK();
}

Status ValidateDirection(const char* name, const DirectionFaults& d) {
  auto bad_delay = [](double v) { return !(v >= 0 && v <= kMaxDelayMs); };  // NaN too
  if (bad_delay(d.latency_ms) || bad_delay(d.jitter_ms)) {
    return Status::InvalidArgument(std::string(name) +
                                   ": latency_ms and jitter_ms must be in [0, 3600000]");
  }
  if (d.bandwidth_bytes_per_s > kMaxBandwidth) {
    return Status::InvalidArgument(std::string(name) +
                                   ": bandwidth_bytes_per_s must be in [0, 1e12]");
  }
  return Status::OK();
}

}  // namespace

Status ValidateFaults(const ProxyFaults& f) {
  if (Status s = ValidateDirection("up", f.up); !s.ok()) return s;
  return ValidateDirection("down", f.down);
}

std::string FaultsToJson(const ProxyFaults& f) {
  json j{{"up", DirectionJson(f.up)},
         {"down", DirectionJson(f.down)},
         {"blackhole", f.blackhole},
         {"reset", f.reset},
         {"refuse", f.refuse}};
  return j.dump();
}

Status MergeFaultsJson(std::string_view text, ProxyFaults* f) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("malformed JSON");
  if (!j.is_object()) return Status::InvalidArgument("faults must be a JSON object");
  ProxyFaults next = *f;
  for (const auto& [k, v] : j.items()) {
    if (k == "up" || k == "down") {
      if (Status s = MergeDirection(k, v, k == "up" ? &next.up : &next.down); !s.ok()) return s;
    } else if (k == "blackhole" || k == "reset" || k == "refuse") {
      if (!v.is_boolean()) return Status::InvalidArgument("'" + k + "' must be true or false");
      bool b = v.get<bool>();
      (k == "blackhole" ? next.blackhole : k == "reset" ? next.reset : next.refuse) = b;
    } else {
      return Status::InvalidArgument("unknown fault '" + k + "'");
    }
  }
  if (Status s = ValidateFaults(next); !s.ok()) return s;
  *f = next;
  return Status::OK();
}

}  // namespace dw::proxy
