// Kafka's sampled statistics (org.apache.kafka.common.metrics): what one sensor records, read as
// Kafka Streams reports it - a windowed rate, average, min and max over 2 samples of 30 s, and
// cumulative count and sum.
//
// Operation. Record(value) adds to the current sample; a sample older than 30 s is reset when it
// comes round again. Read() combines the live samples: rate = (sum, or count) / elapsed, where
// elapsed runs from the oldest live sample's start and is padded to at least one full window
// (Kafka's Rate.windowSize), so a rate is over the last 30-60 s. avg/min/max are NaN with no
// samples, as in Kafka.
//
// Concurrency: Record() from one thread (the owner), Read() from any; an internal mutex makes
// both safe. Cost: one uncontended lock per Record; hot paths record per batch, not per record.
#ifndef WEIR_ENGINE_SENSOR_H_
#define WEIR_ENGINE_SENSOR_H_

#include <array>
#include <cstdint>
#include <limits>

#include "absl/synchronization/mutex.h"

namespace weir {

class Sensor {
 public:
  static constexpr int64_t kSampleWindowMs = 30'000;  // metrics.sample.window.ms
  static constexpr int kSamples = 2;                  // metrics.num.samples

  struct Reading {
    int64_t count = 0;      // records since the start (CumulativeCount)
    double sum = 0;         // values since the start (CumulativeSum)
    double count_rate = 0;  // records per second over the window (Rate of count)
    double sum_rate = 0;    // values per second over the window (Rate of sum)
    double avg = std::numeric_limits<double>::quiet_NaN();
    double min = std::numeric_limits<double>::quiet_NaN();
    double max = std::numeric_limits<double>::quiet_NaN();
  };

  void Record(double value, int64_t now_ms);
  Reading Read(int64_t now_ms) const;

 private:
  struct Sample {
    int64_t start_ms = -1;  // -1: never used
    int64_t count = 0;
    double sum = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
  };
  // The sample covering `now_ms`, reset if it held an older window.
  Sample& Current(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  mutable absl::Mutex mutex_;
  std::array<Sample, kSamples> samples_ ABSL_GUARDED_BY(mutex_);
  int current_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t count_ ABSL_GUARDED_BY(mutex_) = 0;
  double sum_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace weir

#endif  // WEIR_ENGINE_SENSOR_H_
