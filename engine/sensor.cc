#include "engine/sensor.h"

#include <algorithm>

namespace weir {

Sensor::Sample& Sensor::Current(int64_t now_ms) {
  Sample& current = samples_[current_];
  if (current.start_ms >= 0 && now_ms < current.start_ms + kSampleWindowMs) return current;
  if (current.start_ms >= 0) current_ = (current_ + 1) % kSamples;
  Sample& next = samples_[current_];
  next = Sample{};
  next.start_ms = now_ms;
  return next;
}

void Sensor::Record(double value, int64_t now_ms) {
  absl::MutexLock lock(&mutex_);
  Sample& sample = Current(now_ms);
  ++sample.count;
  sample.sum += value;
  sample.min = std::min(sample.min, value);
  sample.max = std::max(sample.max, value);
  ++count_;
  sum_ += value;
}

Sensor::Reading Sensor::Read(int64_t now_ms) const {
  absl::MutexLock lock(&mutex_);
  Reading r{.count = count_, .sum = sum_};
  int64_t oldest = now_ms;
  int64_t count = 0;
  double sum = 0, min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  for (const Sample& s : samples_) {
    // A sample is live while it is within the last kSamples windows (Kafka's purgeObsoleteSamples).
    if (s.start_ms < 0 || now_ms - s.start_ms >= kSamples * kSampleWindowMs) continue;
    oldest = std::min(oldest, s.start_ms);
    count += s.count;
    sum += s.sum;
    min = std::min(min, s.min);
    max = std::max(max, s.max);
  }
  // Kafka's Rate.windowSize: elapsed since the oldest live sample, padded to kSamples - 1 full
  // windows, at least 1 ms.
  int64_t elapsed = now_ms - oldest;
  const int64_t full_windows = elapsed / kSampleWindowMs;
  if (full_windows < kSamples - 1) elapsed += (kSamples - 1 - full_windows) * kSampleWindowMs;
  elapsed = std::max<int64_t>(elapsed, 1);
  r.count_rate = static_cast<double>(count) * 1'000.0 / static_cast<double>(elapsed);
  r.sum_rate = sum * 1'000.0 / static_cast<double>(elapsed);
  if (count > 0) {
    r.avg = sum / static_cast<double>(count);
    r.min = min;
    r.max = max;
  }
  return r;
}

}  // namespace weir
