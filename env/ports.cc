#include "env/ports.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/process.h"

namespace dw::env {

bool TcpPortFree(int port) {
  if (port <= 0 || port > 65535) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

int PickPort(int preferred) {
  if (preferred > 0 && TcpPortFree(preferred)) return preferred;
  return FreeTcpPort();
}

}  // namespace dw::env
