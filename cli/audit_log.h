// The service's audit trail: what `weir run` did, as one JSON object per line, appended to the
// file `audit.log` names (or stderr, the journal under systemd). docs/runbook.md lists the
// events and their fields. It never holds a card number, a token key or a password: the
// configuration and the card token key appear as fingerprints only.
//
// Concurrency: used by `weir run`'s main thread only.
#ifndef WEIR_CLI_AUDIT_LOG_H_
#define WEIR_CLI_AUDIT_LOG_H_

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace weir::cli {

class AuditLog {
 public:
  // `path` "-": stderr. Otherwise the file is created (mode 0600) or appended to; an error
  // names the path.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  const std::string& path() const { return path_; }
  // Appends `fields` with "ts" (UTC, ISO 8601 with milliseconds) and "event" first, and flushes.
  void Write(const std::string& event, const nlohmann::json& fields);

 private:
  AuditLog(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  const std::string path_;
  std::FILE* const file_;
};

// SHA-256 of `text` in hex: the configuration's fingerprint.
std::string Sha256Hex(const std::string& text);

}  // namespace weir::cli

#endif  // WEIR_CLI_AUDIT_LOG_H_
