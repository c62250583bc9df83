// Reading fraud alerts back in integration tests, and looking for card numbers in clear.
#ifndef WEIR_TESTS_SUPPORT_ALERTS_H_
#define WEIR_TESTS_SUPPORT_ALERTS_H_

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace weir::test {

// Card numbers in clear in `text`: digit runs of 12-19 digits (or windows of them inside longer
// runs) that are one of `cards`.
std::set<std::string> CardsIn(std::string_view text, const std::set<std::string>& cards);

// alert_id -> how many times it occurs in `text` (alert JSON, one per line or run together).
std::map<std::string, int> AlertIdCounts(const std::string& text);

}  // namespace weir::test

#endif  // WEIR_TESTS_SUPPORT_ALERTS_H_
