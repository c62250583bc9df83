#include "common/sensor.h"

#include <algorithm>
#include <thread>

namespace weir {

namespace {

// The seqlock without fences (ThreadSanitizer models none): Record stores every field with
// release order after making seq_ odd, and Read loads every field with acquire order. A Read that
// sees any field a running Record wrote therefore also sees seq_ odd, or changed, when it loads
// seq_ again, and retries. On x86 both orders are plain moves, as relaxed ones are.
constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr auto kRelease = std::memory_order_release;
constexpr auto kAcquire = std::memory_order_acquire;

// The writer's update of a field only it writes: a plain load and store, no read-modify-write.
template <typename T, typename U>
void Add(std::atomic<T>& field, U value) {
  field.store(field.load(kRelaxed) + value, kRelease);
}

}  // namespace

Sensor::Sample& Sensor::Current(int64_t now_ms) {
  int current = current_.load(kRelaxed);
  Sample* sample = &samples_[current];
  const int64_t start = sample->start_ms.load(kRelaxed);
  if (start >= 0 && now_ms < start + kSampleWindowMs) return *sample;
  if (start >= 0) {
    current = (current + 1) % kSamples;
    current_.store(current, kRelease);
    sample = &samples_[current];
  }
  sample->start_ms.store(now_ms, kRelease);
  sample->count.store(0, kRelease);
  sample->sum.store(0, kRelease);
  sample->min.store(std::numeric_limits<double>::infinity(), kRelease);
  sample->max.store(-std::numeric_limits<double>::infinity(), kRelease);
  return *sample;
}

void Sensor::Record(double value, int64_t now_ms) {
  const uint64_t seq = seq_.load(kRelaxed);
  seq_.store(seq + 1, kRelaxed);  // the release stores below publish it before any field
  Sample& sample = Current(now_ms);
  Add(sample.count, 1);
  Add(sample.sum, value);
  if (value < sample.min.load(kRelaxed)) sample.min.store(value, kRelease);
  if (value > sample.max.load(kRelaxed)) sample.max.store(value, kRelease);
  Add(count_, 1);
  Add(sum_, value);
  seq_.store(seq + 2, std::memory_order_release);
}

Sensor::Reading Sensor::Read(int64_t now_ms) const {
  struct Copy {
    int64_t start_ms, count;
    double sum, min, max;
  };
  std::array<Copy, kSamples> samples;
  Reading r;
  for (;;) {  // a seqlock read: retry when a Record ran meanwhile
    const uint64_t before = seq_.load(std::memory_order_acquire);
    if (before % 2 != 0) {  // a Record is writing: it is a few stores from done
      std::this_thread::yield();
      continue;
    }
    r = Reading{.count = count_.load(kAcquire), .sum = sum_.load(kAcquire)};
    for (int i = 0; i < kSamples; ++i) {
      samples[i] = {samples_[i].start_ms.load(kAcquire), samples_[i].count.load(kAcquire),
                    samples_[i].sum.load(kAcquire), samples_[i].min.load(kAcquire),
                    samples_[i].max.load(kAcquire)};
    }
    // The acquire loads above keep this load after them.
    if (seq_.load(kRelaxed) == before) break;
    std::this_thread::yield();
  }
  int64_t oldest = now_ms;
  int64_t count = 0;
  double sum = 0, min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  for (const Copy& s : samples) {
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
