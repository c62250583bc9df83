// What every bench measures with, defined once: percentiles of latencies and the bytes a
// directory holds on disk.
#ifndef WEIR_BENCH_MEASURE_H_
#define WEIR_BENCH_MEASURE_H_

#include <cstdint>
#include <filesystem>
#include <vector>

namespace weir::bench {

// The q-quantile (0 < q <= 1) of `values` by nearest rank, as HdrHistogram and most tools
// compute it: the smallest value with at least q of the values at or below it (the value of
// rank ceil(q * n)). NaN when `values` is empty (a report shows "nan", JSON null).
double Percentile(std::vector<double> values, double q);

// Bytes of the regular files under `dir`, recursively; 0 when it does not exist. Files that
// vanish during the walk (RocksDB compacting) are skipped.
int64_t DirectoryBytes(const std::filesystem::path& dir);

}  // namespace weir::bench

#endif  // WEIR_BENCH_MEASURE_H_
