// Status helpers shared by every weir library.
//
// Debian's Abseil (20220623) has no ABSL_RETURN_IF_ERROR / ASSIGN_OR_RETURN, so weir defines
// its own once, here. Use them at every fallible boundary:
//
//   absl::StatusOr<Config> Load(const std::string& path) {
//     WEIR_ASSIGN_OR_RETURN(YAML::Node root, ReadYaml(path));
//     WEIR_RETURN_IF_ERROR(Validate(root));
//     ...
//   }
#ifndef WEIR_COMMON_STATUS_H_
#define WEIR_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define WEIR_STATUS_CONCAT_INNER_(a, b) a##b
#define WEIR_STATUS_CONCAT_(a, b) WEIR_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define WEIR_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status weir_status_ = (expr);        \
    if (!weir_status_.ok()) return weir_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise moves the
// value into `lhs`, which may be a declaration (`auto x`) or an existing variable.
#define WEIR_ASSIGN_OR_RETURN(lhs, rexpr) \
  WEIR_ASSIGN_OR_RETURN_IMPL_(WEIR_STATUS_CONCAT_(weir_statusor_, __LINE__), lhs, rexpr)

#define WEIR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // WEIR_COMMON_STATUS_H_
