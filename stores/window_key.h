// The byte layout of a window: the record key followed by the window start as 8 big-endian
// bytes (docs/state-layout.md). RocksDB segments, changelog records and the record cache all use
// it, so one key's windows sort together, in start order (for starts >= 0).
#ifndef WEIR_STORES_WINDOW_KEY_H_
#define WEIR_STORES_WINDOW_KEY_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/byte_order.h"

namespace weir {

// Writes the window key into `out` (reusing its buffer) and returns a view of it.
inline absl::string_view WindowKeyInto(absl::string_view key, int64_t window_start,
                                       std::string& out) {
  out.assign(key.data(), key.size());
  char start[8];
  StoreBigEndian64(start, static_cast<uint64_t>(window_start));
  out.append(start, 8);
  return out;
}

inline std::string WindowKey(absl::string_view key, int64_t window_start) {
  std::string out;
  WindowKeyInto(key, window_start, out);
  return out;
}

// REQUIRES: window_key.size() >= 8.
inline int64_t WindowKeyStart(absl::string_view window_key) {
  return static_cast<int64_t>(LoadBigEndian64(window_key.data() + window_key.size() - 8));
}

// REQUIRES: window_key.size() >= 8.
inline absl::string_view WindowKeyRecordKey(absl::string_view window_key) {
  return window_key.substr(0, window_key.size() - 8);
}

}  // namespace weir

#endif  // WEIR_STORES_WINDOW_KEY_H_
