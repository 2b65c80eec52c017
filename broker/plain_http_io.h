// One HTTP/1.1 exchange on a connected plain TCP socket, on the calling
// thread, within a deadline: send(2) the request, then poll(2) and recv(2)
// the response into a Beast parser. HttpTransport uses it for http://
// connections; https:// keeps Beast's async operations (the TLS engine
// needs them).
//
// Why not Beast's async operations with expires_at here too: run on a
// private io_context per request, they cost per keep-alive exchange two
// timerfd_settime calls (one per expires_at), two or more epoll_wait calls
// and a speculative recv that fails with EAGAIN before the response has
// come, beside the send, poll and recv that the exchange needs. Those are
// system calls on every 2PC prepare and commit the coordinator makes.
//
// The socket's O_NONBLOCK flag does not matter: every call passes
// MSG_DONTWAIT and waits in poll(2) with the time left.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/asio.h"

namespace dw::broker {

using PlainClock = std::chrono::steady_clock;

// The bytes of a request with these fields, as Beast would write them:
// Content-Length when there is a body or the method is not GET/HEAD,
// Content-Type application/json with a body, "Connection: close" when not
// `keep_alive`, Authorization when `bearer` is not empty.
std::string PlainRequestBytes(http::verb verb, const std::string& target, const std::string& host,
                              const std::string& bearer, const std::string& body, bool keep_alive);

// Writes all of `bytes`. beast::error::timeout at the deadline; otherwise
// the error of send(2) (EPIPE, ECONNRESET, ...).
beast::error_code PlainSend(int fd, std::string_view bytes, PlainClock::time_point deadline);

// Reads one response into `parser` (a fresh one), starting with the bytes
// already in `buffer`; bytes past the response stay there. Errors as
// Beast's http::read reports them: http::error::end_of_stream when the
// peer closed before any byte of the response, http::error::partial_message
// when it closed inside one, the parser's own errors (body_limit, bad
// syntax), recv(2)'s errors, and beast::error::timeout at the deadline.
// `read_first`: try recv(2) before the first poll(2), for a response read
// well after its request was sent.
beast::error_code PlainReadResponse(int fd, beast::flat_buffer& buffer,
                                    http::response_parser<http::string_body>& parser,
                                    PlainClock::time_point deadline, bool read_first = false);

}  // namespace dw::broker
