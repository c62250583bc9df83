// Fuzzes the parser of the membership topic's records (every instance's heartbeat, read by
// every other instance and by `weir status`): a record any client could have written.
// Properties: nothing crashes or leaks; what parses prints to JSON that parses to the same view.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "engine/runtime/membership.h"
#include "tests/fuzz/require.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<weir::InstanceView> view = weir::InstanceView::FromJson(json);
  if (!view.ok()) return 0;
  const std::string printed = view->ToJson();
  absl::StatusOr<weir::InstanceView> again = weir::InstanceView::FromJson(printed);
  weir::fuzz::Require(again.ok() && again->ToJson() == printed, "heartbeat round trip");
  return 0;
}
