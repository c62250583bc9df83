// The fuzz targets' property check: a violated property aborts, which libFuzzer reports as a
// finding with the input that caused it.
#ifndef WEIR_TESTS_FUZZ_REQUIRE_H_
#define WEIR_TESTS_FUZZ_REQUIRE_H_

#include <cstdio>
#include <cstdlib>

namespace weir::fuzz {

inline void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace weir::fuzz

#endif  // WEIR_TESTS_FUZZ_REQUIRE_H_
