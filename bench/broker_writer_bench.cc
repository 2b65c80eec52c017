// The broker writer's CPU per message of a relay's batch, without the disk
// or HTTP: what the writer thread does between taking a batch and writing
// it (the Sequencer's plan against the store and the batch's overlay, the
// record's encoding and framing) and after (applying it to the Store), for
// batches of 1000 order-like messages into one growing topic, as a drain
// sends them. Pure CPU on one thread, so it holds still on a shared machine
// where the end-to-end figures (broker_bench publish_batch, the process's
// CPU) swing with the load. Uses only the broker's public classes, so the
// same file builds at earlier commits for an A/B.
//
// Usage: broker_writer_bench [BATCHES]   (default 500, i.e. 500,000 messages)
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "broker/log_format.h"
#include "broker/sequencer.h"
#include "broker/store.h"
#include "common/record_file.h"

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using dw::broker::Mutation;
  const int batches = argc > 1 ? std::atoi(argv[1]) : 500;
  if (batches <= 0) {
    std::fprintf(stderr, "usage: broker_writer_bench [BATCHES > 0]\n");
    return 2;
  }
  constexpr size_t kBatch = 1000;
  const std::string payload =
      R"({"order_id":1234567,"customer_id":"customer-00042","amount_cents":129900,)"
      R"("currency":"EUR","items":[{"sku":"sku-000017","qty":2},{"sku":"sku-000023","qty":1}],)"
      R"("placed_at_us":1795000000000000,"note":"benchmark"})";
  dw::broker::Store store;
  dw::broker::Sequencer seq(&store);
  std::string framed, record;
  uint64_t n = 0;
  double cpu = 0;
  for (int b = 0; b < batches; ++b) {
    Mutation m;  // built outside the timed part: the I/O threads parse it
    m.kind = Mutation::Kind::kPublishBatch;
    m.topic = "orders";
    m.messages.resize(kBatch);
    for (auto& msg : m.messages) {
      msg.id = "order-event-" + std::to_string(n++);
      msg.key = "customer-00042";
      msg.payload = payload;
    }
    const double t0 = ThreadCpuSeconds();
    dw::broker::Outcome out;
    bool dependent = false;
    seq.Plan(std::move(m), 1, &out, &dependent);
    framed.clear();
    for (const auto& r : seq.records()) {
      record.clear();
      dw::broker::EncodeRecord(r, &record);
      dw::RecordFile::Frame(record, &framed);
    }
    dw::Status s = store.ApplyAll(seq.TakeRecords());
    seq.Reset();
    cpu += ThreadCpuSeconds() - t0;
    if (!s.ok() || !out.status.ok() || out.offsets.size() != kBatch) {
      std::fprintf(stderr, "broker_writer_bench: batch %d failed: %s\n", b, s.ToString().c_str());
      return 1;
    }
  }
  std::printf("writer CPU per message: %.3f us (%d batches of %zu)\n", cpu * 1e6 / n, batches,
              kBatch);
  return 0;
}
