#include "tests/support/alerts.h"

#include <regex>

namespace weir::testing {

std::map<std::string, int> AlertIdCounts(const std::string& text) {
  static const std::regex id("\"alert_id\":\"([^\"]+)\"");
  std::map<std::string, int> ids;
  for (std::sregex_iterator it(text.begin(), text.end(), id), end; it != end; ++it) {
    ++ids[(*it)[1].str()];
  }
  return ids;
}

}  // namespace weir::testing
