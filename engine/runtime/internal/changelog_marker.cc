#include "engine/runtime/internal/changelog_marker.h"

#include "absl/strings/str_cat.h"
#include "common/byte_order.h"
#include "common/status.h"

namespace weir::internal {

Header ChangelogMarker::EpochHeader(int64_t epoch) {
  std::string value(8, '\0');
  StoreBigEndian64(value.data(), static_cast<uint64_t>(epoch));
  return Header{.key = std::string(kEpochHeader), .value = std::move(value)};
}

int64_t ChangelogMarker::EpochOf(const Headers& headers) {
  for (const Header& h : headers) {
    if (h.key == kEpochHeader && h.value && h.value->size() == 8) {
      return static_cast<int64_t>(LoadBigEndian64(h.value->data()));
    }
  }
  return 0;
}

std::string ChangelogMarker::Encode() const {
  std::string value(16, '\0');
  StoreBigEndian64(value.data(), static_cast<uint64_t>(seq));
  StoreBigEndian64(value.data() + 8, static_cast<uint64_t>(stream_time));
  return value + TaskDb::EncodeOffsets(offsets);
}

absl::StatusOr<ChangelogMarker> ChangelogMarker::Decode(absl::string_view value) {
  if (value.size() < 16) {
    return absl::DataLossError(
        absl::StrCat("changelog commit marker of ", value.size(), " bytes (needs >= 16)"));
  }
  ChangelogMarker marker;
  marker.seq = static_cast<int64_t>(LoadBigEndian64(value.data()));
  marker.stream_time = static_cast<int64_t>(LoadBigEndian64(value.data() + 8));
  WEIR_ASSIGN_OR_RETURN(marker.offsets, TaskDb::DecodeOffsets(value.substr(16)));
  return marker;
}

}  // namespace weir::internal
