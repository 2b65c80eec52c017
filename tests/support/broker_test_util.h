// Helpers shared by the broker server's tests (tests/broker_*.cc): JSON calls
// over tests/support's RawHttp (a fresh connection per call, independent of
// the project's BrokerClient), reading a whole topic, scraping /metrics.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace dw::testing::broker {

using nlohmann::json;

struct Resp {
  int status = 0;  // 0: no response (connection failed or closed)
  std::string body;
  json j;  // the body parsed, or null
};

inline Resp Call(int port, const std::string& method, const std::string& target,
                 const std::string& body = "",
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                 const std::string& extra_headers = "") {
  std::string req = method + " " + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  Resp r;
  r.status = RawHttp(port, req, &r.body, timeout);
  r.j = json::parse(r.body, nullptr, false);
  if (r.j.is_discarded()) r.j = nullptr;
  return r;
}

inline Resp Publish(int port, const std::string& topic, const std::string& id,
                    const std::string& payload, const std::string& key = "") {
  json m{{"payload", payload}, {"key", key}};
  if (!id.empty()) m["id"] = id;
  return Call(port, "POST", "/topics/" + topic + "/messages", m.dump());
}

// Every message of `topic`, following "next" page by page.
inline std::vector<json> ReadAll(int port, const std::string& topic) {
  std::vector<json> out;
  uint64_t from = 0;
  for (;;) {
    Resp r = Call(port, "GET",
                  "/topics/" + topic + "/messages?from=" + std::to_string(from) + "&limit=10000");
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return out;
    const json& msgs = r.j["messages"];
    for (const auto& m : msgs) out.push_back(m);
    uint64_t next = r.j["next"].get<uint64_t>();
    if (msgs.empty() || next == from) return out;
    from = next;
  }
}

// The value of a metric line "name value" (labels included in `name`), or -1.
inline double Metric(int port, const std::string& name) {
  Resp r = Call(port, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return -1;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Where the records of a RecordFile end (common/record_file.h: frames of
// u32 length, u32 crc, payload): the broker preallocates its log, so the
// file is longer, zeros past this point.
inline uint64_t RecordsEnd(const std::string& path) {
  const std::string bytes = ReadFile(path);
  uint64_t end = 0;
  uint32_t len = 0;
  while (end + 8 <= bytes.size()) {
    std::memcpy(&len, bytes.data() + end, 4);
    if (len == 0) break;
    end += 8 + len;
  }
  return end;
}

// Sends `raw` on one fresh connection and returns every byte the server sends
// until it closes the connection (or `timeout` passes): for keep-alive,
// pipelining and interim (100 Continue) responses, which RawHttp stops short of.
inline std::string RawUntilClose(int port, const std::string& raw,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string resp;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    size_t sent = 0;
    while (sent < raw.size()) {
      ssize_t n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += n;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      resp.append(buf, n);
    }
  }
  close(fd);
  return resp;
}

// How many times `needle` occurs in `hay`.
inline int Count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

inline bool Healthy(int port) { return Call(port, "GET", "/healthz").status == 200; }

}  // namespace dw::testing::broker
