// IdBlocks: order ids for a writer that must keep working while Postgres is
// down (event sourcing, broker first: the operation writes only to the
// broker). The hi/lo scheme: blocks of 1000 ids come from the same sequence
// as every other approach (`orders_id_seq`, INCREMENT BY 1000, so ids stay
// unique across approaches and processes), but they are reserved AHEAD, by a
// background thread that keeps `reserve` ids in stock. Next() takes from the
// stock and never waits for Postgres while some is left; a Postgres outage
// therefore stops writes only once the stock is used up (reserve / rate
// seconds later), and the ids of blocks left unused when the process exits
// are simply never used (gaps, as with any sequence).
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace dw::es {

class IdBlocks {
 public:
  // Fills the stock once (Unavailable when Postgres cannot be reached), then
  // keeps it filled in the background. `reserve` is rounded up to whole blocks.
  static Status Open(const std::string& dsn, int64_t reserve, std::unique_ptr<IdBlocks>* out);
  ~IdBlocks();

  // The next id. Unavailable when the stock is empty and the last refill
  // failed (Postgres down for longer than the stock lasted).
  Status Next(int64_t* id);

  // Blocks taken from the sequence so far (for the run's summary).
  uint64_t blocks_reserved() const;

 private:
  IdBlocks(std::string dsn, int64_t blocks);
  Status Fill(int64_t blocks);  // takes `blocks` more blocks; without mu_ held
  void Loop();

  const std::string dsn_;
  const int64_t target_blocks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> starts_;  // guarded by mu_: the first id of each block in stock
  int64_t next_ = 0, end_ = 0;  // guarded by mu_: the block being handed out
  Status last_fill_;            // guarded by mu_
  uint64_t reserved_ = 0;       // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace dw::es
