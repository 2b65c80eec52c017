// Writes the binary seeds of fuzz/corpus/log_replay (see log_replay_fuzz.cc
// for the input format): real broker records, framed the way the broker
// frames them, as a raw file, as a payload list, torn and bit-flipped.
//   fuzz_seed_gen OUT_DIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "broker/log_format.h"
#include "common/record_file.h"

namespace {

using namespace dw::broker;

std::vector<std::string> Payloads() {
  std::string odd = "a";
  odd.push_back('\0');
  odd += "\xff\"q\" caf\xc3\xa9";
  std::vector<Record> rs(6);
  rs[0].type = Record::Type::kPublish;
  rs[0].topic = "orders";
  rs[0].first_offset = 0;
  rs[0].ts_ms = 1700000000123;
  rs[0].messages = {{"id-1", "k", odd}, {"", "", ""}};
  rs[1].type = Record::Type::kPrepare;
  rs[1].gid = "tx:1";
  rs[1].ts_ms = 1700000000200;
  rs[1].staged = {{"orders", {"id-3", "k3", "p3"}}, {"audit", {"", "", odd}}};
  rs[2].type = Record::Type::kCommit;
  rs[2].gid = "tx:1";
  rs[2].ts_ms = 1700000000300;
  rs[2].offsets = {2, 0};
  rs[3].type = Record::Type::kPrepare;
  rs[3].gid = "tx:2";
  rs[3].ts_ms = 1700000000400;
  rs[3].staged = {{"orders", {"id-4", "", "p4"}}};
  rs[4].type = Record::Type::kAbort;
  rs[4].gid = "tx:2";
  rs[5].type = Record::Type::kPublish;
  rs[5].topic = "orders";
  rs[5].first_offset = 3;
  rs[5].ts_ms = 1700000000500;
  rs[5].messages = {{"id-5", "k5", "p5"}};
  std::vector<std::string> out;
  for (const auto& r : rs) {
    out.emplace_back();
    EncodeRecord(r, &out.back());
  }
  return out;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string PayloadList(const std::vector<std::string>& ps) {
  std::string s;
  for (const auto& p : ps) {
    if (p.size() < 255) {
      s.push_back(static_cast<char>(p.size()));
    } else {
      s.push_back(static_cast<char>(255));
      s.push_back(static_cast<char>(p.size() & 0xff));
      s.push_back(static_cast<char>(p.size() >> 8));
    }
    s += p;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_gen OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const auto ps = Payloads();
  std::string log;
  for (const auto& p : ps) dw::RecordFile::Frame(p, &log);

  Write(dir + "/raw_full_log", std::string(1, '\0') + log);
  Write(dir + "/raw_torn_tail", std::string(1, '\0') + log.substr(0, log.size() - 7));
  Write(dir + "/raw_corrupt_middle", [&] {
    std::string s = std::string(1, '\0') + log;
    s[20] ^= 0x10;
    return s;
  }());
  const std::string list = PayloadList(ps);
  // mode byte: bit0 framed; bits 1-2 damage; then u16 LE position.
  Write(dir + "/framed_clean", std::string("\x01\x00\x00", 3) + list);
  Write(dir + "/framed_truncated", std::string("\x03\x50\x00", 3) + list);
  Write(dir + "/framed_flipped", std::string("\x05\x30\x00", 3) + list);
  Write(dir + "/framed_garbage_tail", std::string("\x07\x00\x00", 3) + list);
  return 0;
}
