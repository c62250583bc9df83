// The byte orders of weir's stored bytes, in one place: big-endian where bytes must sort as
// numbers (window starts in keys, stream times, commit markers; docs/state-layout.md) and
// little-endian for the fields of stored aggregates (docs/fraud.md, "Store values").
#ifndef WEIR_COMMON_BYTE_ORDER_H_
#define WEIR_COMMON_BYTE_ORDER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace weir {

// 8 bytes, most significant first.
inline void StoreBigEndian64(char* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

inline uint64_t LoadBigEndian64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

// The low `bytes` bytes of `value` (1-8), least significant first, appended to `out`.
inline void AppendLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

// Reads `bytes` bytes (1-8) written by AppendLittleEndian from the front of `in` and consumes
// them; false, with `in` unchanged, when it holds fewer.
inline bool ConsumeLittleEndian(absl::string_view& in, int bytes, uint64_t* value) {
  if (in.size() < static_cast<size_t>(bytes)) return false;
  *value = 0;
  for (int i = 0; i < bytes; ++i) {
    *value |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  }
  in.remove_prefix(static_cast<size_t>(bytes));
  return true;
}

}  // namespace weir

#endif  // WEIR_COMMON_BYTE_ORDER_H_
