#include "bench/processes.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "topologies/fraud_config.h"

namespace weir::bench {

absl::Status WriteRenamedFraudConfig(const std::string& fraud_config_path,
                                     const std::string& out_path, const std::string& payments,
                                     const std::string& alerts, const std::string& dlq) {
  std::ifstream in(fraud_config_path);
  if (!in) return absl::NotFoundError(absl::StrCat(fraud_config_path, ": cannot read it"));
  const std::pair<std::string, std::string> renamed[] = {
      {"payments", payments}, {"alerts", alerts}, {"dlq", dlq}};
  std::string text;
  bool in_topics = false;
  for (std::string line; std::getline(in, line);) {
    const absl::string_view stripped = absl::StripLeadingAsciiWhitespace(line);
    if (stripped.size() == line.size() && !stripped.empty() && stripped[0] != '#') {
      in_topics = absl::StartsWith(stripped, "topics:");
    } else if (in_topics) {
      for (const auto& [key, topic] : renamed) {
        if (absl::StartsWith(stripped, absl::StrCat(key, ":"))) {
          // `stripped` views `line`: done with it once the line is replaced.
          line = absl::StrCat(line.substr(0, line.size() - stripped.size()), key, ": ", topic);
          break;
        }
      }
    }
    absl::StrAppend(&text, line, "\n");
  }
  std::ofstream(out_path) << text;
  WEIR_ASSIGN_OR_RETURN(const fraud::FraudConfig copy, fraud::LoadFraudConfig(out_path));
  if (copy.payments_topic != payments || copy.alerts_topic != alerts || copy.dlq_topic != dlq) {
    return absl::InvalidArgumentError(
        absl::StrCat(fraud_config_path, ": its topics: block (payments, alerts, dlq) did not "
                                        "take the run's topic names"));
  }
  return absl::OkStatus();
}

}  // namespace weir::bench
