// The wall clock as Kafka stamps records: milliseconds since the Unix epoch.
#ifndef WEIR_COMMON_CLOCK_H_
#define WEIR_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace weir {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace weir

#endif  // WEIR_COMMON_CLOCK_H_
