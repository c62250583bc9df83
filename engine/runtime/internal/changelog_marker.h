// A changelog commit marker: the record a task sends to each logged store's changelog after a
// commit's changes (engine/runtime/internal/task.h's PrepareCommit), so that restoration and
// standbys apply whole commits only (engine/runtime/internal/changelog_reader.h).
// docs/state-layout.md has the format's reasoning.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_MARKER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_MARKER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/processor/record.h"
#include "stores/task_db.h"

namespace weir::internal {

// Key: kKey. Value: seq (8 bytes) + task stream time (8 bytes) + the input offsets
// (TaskDb::EncodeOffsets), big-endian.
struct ChangelogMarker {
  // The key of every commit marker: one fixed key, so that Kafka accepts markers on compacted
  // changelogs (it refuses keyless records there) and compaction keeps only the latest one,
  // merging the commits before it into one. A store key equal to it is reserved. Markers of
  // changelogs written before compaction have no key; both are read as markers.
  static constexpr absl::string_view kKey = "\xffweir.commit";
  static bool IsMarker(const std::optional<std::string>& key) { return !key || *key == kKey; }

  // Every changelog record a task sends, its markers included, carries the header kEpochHeader:
  // its writer's epoch (8 bytes big-endian), which each activation of the task draws above every
  // epoch its state has seen (Task::PrepareCommit). A task's legitimate writers follow one
  // another, so their epochs only grow along the log; a record whose epoch is below one already
  // read in the same log comes from an owner the group has replaced - a member paused past its
  // session timeout that wakes and commits, under at_least_once - and readers drop it
  // (ChangelogApplier). Records without the header (written before it) have epoch 0.
  static constexpr absl::string_view kEpochHeader = "weir.epoch";
  static Header EpochHeader(int64_t epoch);
  static int64_t EpochOf(const Headers& headers);

  int64_t epoch = 0;  // from the record's header, not its value
  int64_t seq = 0;
  int64_t stream_time = -1;
  TaskDb::Offsets offsets;
  std::string Encode() const;
  // DataLoss when `value` is not a marker's.
  static absl::StatusOr<ChangelogMarker> Decode(absl::string_view value);
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_MARKER_H_
