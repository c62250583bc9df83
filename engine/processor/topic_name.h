// Kafka's rule for topic names, shared by everything that names or prefixes a topic.
#ifndef WEIR_ENGINE_PROCESSOR_TOPIC_NAME_H_
#define WEIR_ENGINE_PROCESSOR_TOPIC_NAME_H_

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace weir {

inline constexpr size_t kMaxTopicNameLength = 249;

// True when `name` is 1-249 letters, digits, '.', '_' or '-', and not "." or "..".
inline bool IsLegalTopicName(absl::string_view name) {
  return !name.empty() && name.size() <= kMaxTopicNameLength && name != "." && name != ".." &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                  c == '-';
         });
}

// An internal topic of the application (a topology's repartition or other internal topic, a
// store's changelog): `<application.id>-<name>`, as in Kafka Streams. The one place that spells it.
inline std::string InternalTopic(absl::string_view application_id, absl::string_view name) {
  return absl::StrCat(application_id, "-", name);
}

// A store's changelog topic: `<application.id>-<store>-changelog`.
inline std::string ChangelogTopic(absl::string_view application_id, absl::string_view store) {
  return InternalTopic(application_id, absl::StrCat(store, "-changelog"));
}

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_TOPIC_NAME_H_
