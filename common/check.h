// Invariant checks: WEIR_CHECK(condition) << "message" aborts with file, line, condition and
// message when the condition is false. For programming errors only, never for user input (which
// gets an absl::Status). Debian's Abseil (20220623) predates ABSL_CHECK.
#ifndef WEIR_COMMON_CHECK_H_
#define WEIR_COMMON_CHECK_H_

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace weir::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    message_ << file << ":" << line << ": check failed: " << condition << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::cerr << message_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return message_; }

 private:
  std::ostringstream message_;
};

}  // namespace weir::internal

#define WEIR_CHECK(condition) \
  if (condition) {            \
  } else                      \
    ::weir::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#endif  // WEIR_COMMON_CHECK_H_
