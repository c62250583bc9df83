// weir logs through spdlog; include this header rather than spdlog's.
//
// It also teaches fmt to print absl::string_view (what absl::Status::message() returns): Debian's
// Abseil is built with its own string_view type rather than std::string_view.
#ifndef WEIR_COMMON_LOGGING_H_
#define WEIR_COMMON_LOGGING_H_

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "absl/strings/string_view.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  auto format(absl::string_view text, fmt::format_context& context) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text.data(), text.size()),
                                                    context);
  }
};

#endif  // WEIR_COMMON_LOGGING_H_
