#include "es/id_blocks.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include <pqxx/pqxx>

namespace dw::es {
namespace {
constexpr int64_t kBlock = 1000;  // orders_id_seq's INCREMENT BY (workload/orders.cc)
}

IdBlocks::IdBlocks(std::string dsn, int64_t blocks)
    : dsn_(std::move(dsn)), target_blocks_(blocks) {}

Status IdBlocks::Open(const std::string& dsn, int64_t reserve, std::unique_ptr<IdBlocks>* out) {
  const int64_t blocks = std::max<int64_t>(2, (reserve + kBlock - 1) / kBlock);
  std::unique_ptr<IdBlocks> b(new IdBlocks(dsn, blocks));
  Status s = b->Fill(blocks);
  if (!s.ok()) return s;
  b->thread_ = std::thread([p = b.get()] { p->Loop(); });
  *out = std::move(b);
  return Status::OK();
}

IdBlocks::~IdBlocks() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status IdBlocks::Fill(int64_t blocks) {
  std::vector<int64_t> got;
  try {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    // Blocks of concurrent writers interleave: each nextval is a block of its own.
    for (const auto& row :
         tx.exec_params("SELECT nextval('orders_id_seq') FROM generate_series(1, $1)", blocks)) {
      got.push_back(row[0].as<int64_t>());
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> l(mu_);
    last_fill_ = Status::Unavailable(std::string("reserving order ids: ") + e.what());
    return last_fill_;
  }
  std::lock_guard<std::mutex> l(mu_);
  starts_.insert(starts_.end(), got.begin(), got.end());
  reserved_ += got.size();
  last_fill_ = Status::OK();
  return Status::OK();
}

void IdBlocks::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    // Refill when half the stock is gone; retry a failed refill every 200 ms.
    cv_.wait_for(l, std::chrono::milliseconds(200), [&] {
      return stop_ || static_cast<int64_t>(starts_.size()) * 2 < target_blocks_;
    });
    if (stop_) return;
    const int64_t missing = target_blocks_ - static_cast<int64_t>(starts_.size());
    if (missing * 2 <= target_blocks_) continue;
    l.unlock();
    (void)Fill(missing);  // a failure is kept in last_fill_ for Next()
    l.lock();
  }
}

Status IdBlocks::Next(int64_t* id) {
  std::lock_guard<std::mutex> l(mu_);
  if (next_ >= end_) {
    if (starts_.empty()) {
      cv_.notify_all();
      return last_fill_.ok() ? Status::Unavailable("order ids: the reserve is empty, refilling")
                             : last_fill_;
    }
    next_ = starts_.front();
    end_ = next_ + kBlock;
    starts_.pop_front();
    if (static_cast<int64_t>(starts_.size()) * 2 < target_blocks_) cv_.notify_all();
  }
  *id = next_++;
  return Status::OK();
}

uint64_t IdBlocks::blocks_reserved() const {
  std::lock_guard<std::mutex> l(mu_);
  return reserved_;
}

}  // namespace dw::es
