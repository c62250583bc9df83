// The fraud topology's window aggregates and their stored form (docs/fraud.md documents the
// layout): `card-1m` as the text "count,sum", `card-5m` as a binary record. Decoding never
// trusts its input: a value that does not decode is nullopt, whatever its bytes (a fuzz target,
// tests/fuzz/, holds the decoders to that).
#ifndef WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_
#define WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

namespace weir::fraud {

// card-1m: count and sum of one card's tumbling window. Stored as "count,sum".
struct MinuteAggregate {
  int64_t count = 0;
  int64_t sum = 0;
};

// card-5m: count, sum, max and distinct countries and merchants of a hopping window. The
// strings are views, sorted and distinct, into the stored value they were decoded from and the
// payment being added, so an update allocates nothing but the new value.
struct FiveMinuteAggregate {
  using Strings = absl::InlinedVector<absl::string_view, 4>;
  int64_t count = 0;
  int64_t sum = 0;
  int64_t max = 0;
  Strings countries;
  Strings merchants;
};

// Adds `s` to sorted, distinct `strings` unless present (a set's insert).
void InsertSorted(FiveMinuteAggregate::Strings& strings, absl::string_view s);

// "count,sum"; nullopt when `bytes` is not two integers so separated.
std::optional<MinuteAggregate> DecodeMinute(absl::string_view bytes);

// card-5m values are binary, in the order of the struct: count, sum, max as 8-byte
// little-endian integers, then the countries and the merchants, each as a 4-byte count of
// strings followed by (2-byte length, bytes) per string (a string is cut at 65,535 bytes).
// The decoded strings view `in`, which must outlive them; nullopt when `in` is not such a value.
std::optional<FiveMinuteAggregate> DecodeFiveMinute(absl::string_view in);
std::string EncodeFiveMinute(const FiveMinuteAggregate& a);

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_
