#include "tests/support/alerts.h"

#include <regex>

#include "absl/strings/ascii.h"

namespace weir::test {

std::map<std::string, int> AlertIdCounts(const std::string& text) {
  static const std::regex id("\"alert_id\":\"([^\"]+)\"");
  std::map<std::string, int> ids;
  for (std::sregex_iterator it(text.begin(), text.end(), id), end; it != end; ++it) {
    ++ids[(*it)[1].str()];
  }
  return ids;
}

std::set<std::string> CardsIn(std::string_view text, const std::set<std::string>& cards) {
  std::set<std::string> found;
  size_t i = 0;
  while (i < text.size()) {
    if (!absl::ascii_isdigit(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
    const std::string_view run = text.substr(i, end - i);
    for (size_t length = 12; length <= 19 && length <= run.size(); ++length) {
      for (size_t start = 0; start + length <= run.size(); ++start) {
        const std::string candidate(run.substr(start, length));
        if (cards.contains(candidate)) found.insert(candidate);
      }
    }
    i = end;
  }
  return found;
}

}  // namespace weir::test
