// Reading fraud alerts back in integration tests.
#ifndef WEIR_TESTS_SUPPORT_ALERTS_H_
#define WEIR_TESTS_SUPPORT_ALERTS_H_

#include <map>
#include <string>

namespace weir::testing {

// alert_id -> how many times it occurs in `text` (alert JSON, one per line or run together).
std::map<std::string, int> AlertIdCounts(const std::string& text);

}  // namespace weir::testing

#endif  // WEIR_TESTS_SUPPORT_ALERTS_H_
