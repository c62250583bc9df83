#include "bench/measure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <system_error>

namespace weir::bench {

size_t NearestRankIndex(size_t n, double q) {
  const double rank = std::ceil(q * static_cast<double>(n));
  return rank < 1 ? 0 : std::min(static_cast<size_t>(rank) - 1, n - 1);
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const size_t at = NearestRankIndex(values.size(), q);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

int64_t DirectoryBytes(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  int64_t bytes = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    std::error_code file_error;
    if (it->is_regular_file(file_error)) {
      const uintmax_t size = it->file_size(file_error);
      if (!file_error) bytes += static_cast<int64_t>(size);
    }
  }
  return bytes;
}

}  // namespace weir::bench
