// Fuzzes the decoders of what weir reads back from disk and changelogs: the fraud topology's
// stored card values (card-windows), TaskDb's committed offsets (state metadata
// and changelog commit markers) and window keys.
// Properties: nothing crashes or leaks; whatever decodes re-encodes to a value that decodes to
// the same aggregate.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "stores/key_value_store.h"
#include "stores/task_db.h"
#include "stores/window_key.h"
#include "tests/fuzz/require.h"
#include "topologies/fraud_aggregates.h"

using weir::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);

  if (weir::fraud::CardWindows a; weir::fraud::DecodeCardWindows(bytes, a)) {
    std::string again;
    weir::fraud::EncodeCardWindows(a, weir::ValueTimestamp(bytes).value_or(-1), again);
    Require(again == bytes, "a card-windows value re-encodes to its own bytes");
    weir::fraud::CardWindows b;
    b.slices.emplace_back();  // decoding replaces what was there
    Require(weir::fraud::DecodeCardWindows(again, b) && b.last_alert == a.last_alert &&
                b.slices.size() == a.slices.size(),
            "card-windows round trip");
  }

  absl::StatusOr<weir::TaskDb::Offsets> offsets = weir::TaskDb::DecodeOffsets(bytes);
  if (offsets.ok()) {
    absl::StatusOr<weir::TaskDb::Offsets> again =
        weir::TaskDb::DecodeOffsets(weir::TaskDb::EncodeOffsets(*offsets));
    Require(again.ok() && *again == *offsets, "offsets round trip");
  }

  if (bytes.size() >= 8) {
    const int64_t start = weir::WindowKeyStart(bytes);
    const absl::string_view key = weir::WindowKeyRecordKey(bytes);
    Require(weir::WindowKey(key, start) == bytes, "window key round trip");
  }
  return 0;
}
