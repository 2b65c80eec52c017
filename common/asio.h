// The one way to include Boost.Asio / Beast in this project.
// Boost 1.74's Asio uses std::exchange without including <utility>, which
// fails under g++ 12 in C++20 ("'exchange' is not a member of 'std'").
#pragma once

#include <utility>  // must precede Asio: see above

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace dw {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
}  // namespace dw
