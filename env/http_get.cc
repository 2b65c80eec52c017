#include "env/http_get.h"

#include <optional>

#include "common/asio.h"

namespace dw::env {

Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply) {
  // Asynchronous operations on a private io_context: Beast's deadlines only
  // apply to async operations (see API-FACTS).
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::connection, "close");
  http::response<http::string_body> res;
  beast::error_code failure;
  const char* failed_at = nullptr;

  auto fail = [&](const char* what, beast::error_code ec) {
    failure = ec;
    failed_at = what;
  };
  tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port));
  stream.expires_after(timeout);
  stream.async_connect(ep, [&](beast::error_code ec) {
    if (ec) return fail("connect", ec);
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return fail("write", ec);
      http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) {
        if (ec) return fail("read", ec);
      });
    });
  });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  std::string where = "GET 127.0.0.1:" + std::to_string(port) + target;
  if (failed_at) {
    if (failure == beast::error::timeout) return Status::Timeout(where + ": no answer in time");
    if (failure == asio::error::connection_refused) {
      return Status::Unavailable(where + ": connection refused");
    }
    return Status::Unavailable(where + ": " + failed_at + ": " + failure.message());
  }
  reply->status = static_cast<int>(res.result_int());
  reply->body = std::move(res.body());
  return Status::OK();
}

}  // namespace dw::env
