// bench compare's baseline: RocksDB alone doing a workload's state reads and writes with an
// option set, no engine (docs/benchmarks.md reads weir's rate against it).
#ifndef WEIR_BENCH_ROCKSDB_ALONE_H_
#define WEIR_BENCH_ROCKSDB_ALONE_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "bench/compare.h"

namespace weir::bench {

struct RocksDbAloneResult {
  double records_per_s = 0;
  double get_us_per_record = 0;  // the gets' share: what an engine cannot skip
};

// The state layout RocksDB alone is timed with.
enum class AloneLayout {
  // The first layout (docs/state-layout.md): per payment a get and a put of its card-1m window
  // and of each of the five card-5m windows containing it, in stores card-1m and card-5m.
  kSixWindows,
  // Today's: one get and one put of the card's value in store card-windows, with the
  // topology's own encoding (topologies/fraud_aggregates.h).
  kOneValue,
};

// RocksDB alone on the workload: the same payments, and per payment the state reads and writes
// of `layout`, with values of the topology's sizes, straight on rocksdb::DB with the set's
// options: one instance per task, a column family per store, each payment's puts in one
// WriteBatch without the WAL (Kafka Streams' uncached write path), the offsets written at each
// commit. No record cache, pending writes, changelog or topology; parsing and tokenizing happen
// outside the timed section. The gets are what any engine must do when the state outgrows its
// record cache; the puts an engine may collapse (weir's pending writes do).
absl::StatusOr<RocksDbAloneResult> RunRocksDbAlone(const CompareOptions& options,
                                                   const std::string& set_path,
                                                   const std::filesystem::path& dir,
                                                   AloneLayout layout);

}  // namespace weir::bench

#endif  // WEIR_BENCH_ROCKSDB_ALONE_H_
