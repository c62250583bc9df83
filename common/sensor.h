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
// Concurrency: Record() from one thread only (the owner: a stream thread records its own and
// its tasks' sensors), Read() from any. A sequence counter (a seqlock) makes a Read that ran
// beside a Record retry, so a reading is always of a whole record; Record itself takes no lock
// and does no atomic read-modify-write, so recording per record costs a few plain stores.
#ifndef WEIR_COMMON_SENSOR_H_
#define WEIR_COMMON_SENSOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>

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
  // Every field is an atomic that Record writes with release order and Read reads with acquire
  // order (no fences, which ThreadSanitizer cannot model): the one writer never races another,
  // and seq_ orders what readers see (sensor.cc).
  struct Sample {
    std::atomic<int64_t> start_ms{-1};  // -1: never used
    std::atomic<int64_t> count{0};
    std::atomic<double> sum{0};
    std::atomic<double> min{std::numeric_limits<double>::infinity()};
    std::atomic<double> max{-std::numeric_limits<double>::infinity()};
  };
  // The sample covering `now_ms`, reset if it held an older window. Writer only.
  Sample& Current(int64_t now_ms);

  std::atomic<uint64_t> seq_{0};  // odd while Record is writing
  std::array<Sample, kSamples> samples_;
  std::atomic<int> current_{0};
  std::atomic<int64_t> count_{0};
  std::atomic<double> sum_{0};
};

}  // namespace weir

#endif  // WEIR_COMMON_SENSOR_H_
