// JSON string literals written straight into a buffer, for request bodies too
// hot to build as a nlohmann DOM first: a relay's batch is 1000 messages per
// request, and the DOM (a std::map per message) plus its dump cost the relay
// more CPU than the rest of the request (bench/broker_bench.cc,
// publish_batch). The escaping is exactly nlohmann's dump() without
// ensure_ascii: '"', '\\' and control characters are escaped (\b \t \n \f \r
// or \u00xx), every other byte is copied, so the input must already be valid
// UTF-8 (the caller checks; the result is then valid JSON).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dw {

// Size of the literal for `s`, quotes included.
size_t JsonStringSize(std::string_view s);

// Appends the literal for `s`, quotes included.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace dw
