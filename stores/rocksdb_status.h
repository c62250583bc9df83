// Converts rocksdb::Status to absl::Status, once, at the RocksDB boundary.
//
// Busy, TryAgain, TimedOut and Incomplete map to kUnavailable (retry); Corruption to kDataLoss;
// InvalidArgument and NotSupported to kInvalidArgument / kUnimplemented; NotFound to kNotFound;
// an IOError for a full disk to kResourceExhausted (the operator must act), other IOErrors to
// kInternal (RocksDB 7.8 does not expose its retryable bit). The message is
// "<context>: <RocksDB's text>".
#ifndef WEIR_STORES_ROCKSDB_STATUS_H_
#define WEIR_STORES_ROCKSDB_STATUS_H_

#include <rocksdb/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace weir {

absl::Status RocksDbStatus(const rocksdb::Status& status, absl::string_view context);

}  // namespace weir

#endif  // WEIR_STORES_ROCKSDB_STATUS_H_
