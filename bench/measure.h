// What every bench measures with, defined once: percentiles of latencies and the bytes a
// directory holds on disk.
#ifndef WEIR_BENCH_MEASURE_H_
#define WEIR_BENCH_MEASURE_H_

#include <cstdint>
#include <filesystem>
#include <limits>
#include <vector>

namespace weir::bench {

// The q-quantile (0 < q <= 1) of `values` by nearest rank, as HdrHistogram and most tools
// compute it: the smallest value with at least q of the values at or below it (the value of
// rank ceil(q * n)). NaN when `values` is empty (a report shows "nan", JSON null).
double Percentile(std::vector<double> values, double q);

// The same rule over values already sorted ascending (large samples, no copy): the index of the
// q-quantile's value among `n` > 0 sorted values.
size_t NearestRankIndex(size_t n, double q);
template <typename T>
double PercentileOfSorted(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(sorted[NearestRankIndex(sorted.size(), q)]);
}

// Bytes of the regular files under `dir`, recursively; 0 when it does not exist. Files that
// vanish during the walk (RocksDB compacting) are skipped.
int64_t DirectoryBytes(const std::filesystem::path& dir);

}  // namespace weir::bench

#endif  // WEIR_BENCH_MEASURE_H_
