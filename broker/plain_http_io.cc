#include "broker/plain_http_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace dw::broker {
namespace {

beast::error_code Errno(int e) { return beast::error_code(e, boost::system::system_category()); }

// Waits until `fd` is ready for `events` or the deadline passes.
beast::error_code Wait(int fd, short events, PlainClock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - PlainClock::now());
    if (left.count() <= 0) return beast::error::timeout;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (r > 0) return {};  // readable, writable, or an error/hang-up the next call reports
    if (r == 0) return beast::error::timeout;
    if (errno != EINTR) return Errno(errno);
  }
}

}  // namespace

std::string PlainRequestBytes(http::verb verb, const std::string& target, const std::string& host,
                              const std::string& bearer, const std::string& body, bool keep_alive) {
  std::string out;
  out.reserve(160 + target.size() + bearer.size() + body.size());
  const auto method = http::to_string(verb);
  out.append(method.data(), method.size());
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\nUser-Agent: dualwrite/0.1\r\n";
  if (!bearer.empty()) {
    out += "Authorization: Bearer ";
    out += bearer;
    out += "\r\n";
  }
  if (!body.empty()) out += "Content-Type: application/json\r\n";
  if (!body.empty() || (verb != http::verb::get && verb != http::verb::head)) {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

beast::error_code PlainSend(int fd, std::string_view bytes, PlainClock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (beast::error_code ec = Wait(fd, POLLOUT, deadline)) return ec;
      continue;
    }
    return Errno(n < 0 ? errno : EPIPE);
  }
  return {};
}

beast::error_code PlainReadResponse(int fd, beast::flat_buffer& buffer,
                                    http::response_parser<http::string_body>& parser,
                                    PlainClock::time_point deadline, bool read_first) {
  parser.eager(true);  // header and body in one put() when both are there
  bool wait = !read_first;
  for (;;) {
    // Parse what is buffered first: a response may already be complete.
    while (buffer.size() > 0 && !parser.is_done()) {
      beast::error_code ec;
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return ec;
      if (used == 0) break;
    }
    if (parser.is_done()) return {};
    // Wait first, then read: right after the request nothing has come yet,
    // and a recv now would only fail with EAGAIN. Unless the caller did
    // other work since the request went (read_first): then the answer is
    // usually there, and the poll would be the wasted call.
    if (wait) {
      if (beast::error_code ec = Wait(fd, POLLIN, deadline)) return ec;
    }
    wait = true;
    auto space = buffer.prepare(std::max<size_t>(16384, buffer.capacity() - buffer.size()));
    ssize_t n = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      buffer.commit(static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      // The peer closed. A response delimited by the end of the stream is
      // complete now; otherwise the response is cut or never came.
      if (!parser.got_some()) return http::error::end_of_stream;
      beast::error_code ec;
      parser.put_eof(ec);
      if (ec) return ec;
      return parser.is_done() ? beast::error_code{} : http::error::partial_message;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return Errno(errno);
  }
}

}  // namespace dw::broker
