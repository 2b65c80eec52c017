// Choosing TCP ports for the cluster and the broker. A port is chosen once
// and remembered in env.json; a restart reuses it when it is still free so
// that DSNs and URLs people pasted elsewhere keep working.
#pragma once

namespace dw::env {

// True when 127.0.0.1:`port` can be bound right now. SO_REUSEADDR is set, as
// Postgres and Asio's acceptor do, so connections in TIME_WAIT left by a
// killed server do not make its own port look taken.
bool TcpPortFree(int port);

// `preferred` if it is > 0 and free, else a fresh free port (-1 on failure).
int PickPort(int preferred);

}  // namespace dw::env
