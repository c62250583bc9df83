// What bench compare's files share (bench/compare.cc, rocksdb_alone.cc): the workload an
// in-process run works from and the progress lines of a long run. Not used elsewhere.
#ifndef WEIR_BENCH_COMPARE_WORKLOAD_H_
#define WEIR_BENCH_COMPARE_WORKLOAD_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "bench/compare.h"
#include "common/status.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_config.h"
#include "topologies/payment.h"
#include "topologies/payment_generator.h"

namespace weir::bench {

// The payments of every run: the same seed and cards, 1% injected fraud.
inline fraud::PaymentGeneratorOptions GeneratorOptions(const CompareOptions& options) {
  return {.cards = options.cards, .seed = options.seed, .fraud_fraction = 0.01};
}

// What an in-process run of one option set works from - the rules, the option set with its
// shared objects, the payments and the card tokenizer - the same for weir's run and RocksDB
// alone's.
struct InProcessWorkload {
  fraud::FraudConfig fraud_config;
  RocksDbOptionSet set;
  SharedResources shared;
  fraud::PaymentGenerator generator;
  fraud::CardTokenizer tokenizer;
};

inline absl::StatusOr<InProcessWorkload> LoadInProcessWorkload(const CompareOptions& options,
                                                               const std::string& set_path) {
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(options.fraud_config));
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet set, LoadRocksDbOptionSet(set_path));
  WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator,
                        fraud::PaymentGenerator::Create(GeneratorOptions(options), fraud_config));
  SharedResources shared = MakeSharedResources(set);
  return InProcessWorkload{std::move(fraud_config), std::move(set), std::move(shared),
                           std::move(generator), fraud::CardTokenizer("weir-bench-compare")};
}

// A stderr line at every tenth of a long run: "<what>: N of M records (P%), R records/s".
class Progress {
 public:
  Progress(std::string what, int64_t total) : what_(std::move(what)), total_(total) {}
  void Update(int64_t done, double seconds) {
    if (done < next_ || done >= total_) return;
    std::fprintf(stderr, "  %s: %lld of %lld records (%lld%%), %.0f records/s\n", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<long long>(done * 100 / total_),
                 seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
    next_ = done - done % Step() + Step();
  }

 private:
  int64_t Step() const { return std::max<int64_t>(total_ / 10, 1); }
  const std::string what_;
  const int64_t total_;
  int64_t next_ = Step();
};

}  // namespace weir::bench

#endif  // WEIR_BENCH_COMPARE_WORKLOAD_H_
