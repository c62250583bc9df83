// The fraud topology's state: per card, its one-minute slices and its last alerts, in one value
// of store `card-windows` (docs/state-layout.md, "The fraud topology's state"). Every window the
// rules read - the `card-1m` tumbling window and the five `card-5m` hopping windows containing a
// payment - is the merge of the slices it covers, so a payment reads and writes one value
// instead of six windows. Decoding never trusts its input: a value that does not decode is
// nullopt, whatever its bytes (a fuzz target, tests/fuzz/, holds the decoder to that).
#ifndef WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_
#define WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

namespace weir::fraud {

// Sorted, distinct strings viewing the stored value they were decoded from or the payment being
// added, so reading and updating a card allocates nothing but the new value. Eight inline: a
// slice of loadgen's busiest cards holds more than four merchants (4 inline spilled to the heap
// on a third of payments).
using Strings = absl::InlinedVector<absl::string_view, 8>;

// Adds `s` to sorted, distinct `strings` unless present (a set's insert); true when added.
bool InsertSorted(Strings& strings, absl::string_view s);

// The payments of one card in [start, start + slice width).
struct Slice {
  int64_t start = 0;
  int64_t count = 0;
  int64_t sum = 0;  // cents
  int64_t max = 0;  // cents
  Strings countries;
  Strings merchants;
};

// A window's aggregate: the merge of the slices it covers.
struct WindowAggregate {
  int64_t count = 0;
  int64_t sum = 0;
  int64_t max = 0;
  Strings countries;
  Strings merchants;
};

// The rules, in the order they alert for one payment.
enum Rule : int { kVelocity = 0, kHighSpend = 1, kGeoHop = 2, kRuleCount = 3 };
const char* RuleName(Rule rule);

struct CardWindows {
  // Per rule, the start of the window of its latest alert (the cooldown), if any is kept.
  std::array<std::optional<int64_t>, kRuleCount> last_alert;
  absl::InlinedVector<Slice, 8> slices;  // ascending, distinct starts

  // What to merge besides count, sum and max: the rules read only the countries.
  enum class Merge { kCounts, kCountries, kAll };
  // The slices with starts in [start, end), merged.
  WindowAggregate Window(int64_t start, int64_t end, Merge merge) const;
  // The slice starting at `start`, inserted empty in order when missing.
  Slice& SliceAt(int64_t start);
};

// Layout, after the 8-byte big-endian timestamp every value of an expiring key-value store
// begins with (stores/key_value_store_options.h): a format byte (1); a byte whose bit r says
// rule r has a last alert, then each such start as 8 bytes little-endian; a 2-byte count of
// slices; per slice its start, count, sum and max as 8-byte little-endian integers, then its
// countries and its merchants, each a 2-byte count followed by (2-byte length, bytes) per
// string (payment fields are at most 256 bytes). Replaces `out` with the card `in` holds (its
// strings view `in`, which must outlive them), reusing `out`'s space; false, `out` unspecified,
// when `in` is not such a value.
bool DecodeCardWindows(absl::string_view in, CardWindows& out);
// Replaces `out` with `card`'s value stamped `timestamp`.
void EncodeCardWindows(const CardWindows& card, int64_t timestamp, std::string& out);

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_FRAUD_AGGREGATES_H_
