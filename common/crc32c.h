// CRC-32C (Castagnoli), the checksum of every on-disk record in dualwrite
// (broker log, coordinator decision log). Chosen over CRC-32 because it has
// better error detection for the short records we write and is what
// leveldb/RocksDB/ext4 use; software table implementation, no dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dw::crc32c {

// Extends `crc` (the CRC of some earlier bytes) with `n` more bytes.
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace dw::crc32c
