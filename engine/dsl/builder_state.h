// What the DSL's handles (engine/dsl/kstream.h, engine/dsl/ktable.h) share: the builder's state,
// and the options operations take (Kafka Streams' Produced, Grouped, Materialized).
#ifndef WEIR_ENGINE_DSL_BUILDER_STATE_H_
#define WEIR_ENGINE_DSL_BUILDER_STATE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/processor/serde.h"
#include "engine/processor/topology.h"

namespace weir {

namespace dsl {

// What every DSL handle of one builder shares.
struct BuilderState {
  Topology topology;
  absl::Status error;  // the first DSL mistake the topology itself cannot see
  int next_index = 0;
  void Fail(std::string message) {
    if (error.ok()) error = absl::InvalidArgumentError(std::move(message));
  }
  // Kafka Streams' generated names: PREFIX-0000000007.
  std::string NewName(absl::string_view prefix) {
    return absl::StrFormat("%s-%010d", prefix, next_index++);
  }
};

// Serde of T when the stream's old serde can stand for it (same type), else null.
template <typename T, typename U>
SerdePtr<T> CarrySerde(const SerdePtr<U>& serde) {
  if constexpr (std::is_same_v<T, U>) {
    return serde;
  } else {
    return nullptr;
  }
}

}  // namespace dsl

// Serdes for a sink.
template <typename K, typename V>
struct Produced {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  static Produced With(SerdePtr<K> key, SerdePtr<V> value) { return {key, value}; }
};

// Serdes (and a name) for grouping, used when the grouping repartitions.
template <typename K, typename V>
struct Grouped {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  static Grouped With(SerdePtr<K> key, SerdePtr<V> value) { return {key, value}; }
};

// Serdes for the stores of a join of two streams (Kafka Streams' StreamJoined): the key's, this
// stream's values' and the other stream's values'. Those left out follow the streams.
template <typename K, typename V, typename VO>
struct StreamJoined {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  SerdePtr<VO> other_value_serde;
  static StreamJoined With(SerdePtr<K> key, SerdePtr<V> value, SerdePtr<VO> other_value) {
    return {key, value, other_value};
  }
};

// The buffer of a suppression (Kafka Streams' Suppressed.BufferConfig): at most `max_records`
// keys and `max_bytes` bytes (each key's serialized key and update, plus 24 bytes); when full,
// it emits its oldest entries early, or stops the instance (ShutDownWhenFull).
struct BufferConfig {
  int64_t max_records = std::numeric_limits<int64_t>::max();
  int64_t max_bytes = std::numeric_limits<int64_t>::max();
  bool shut_down_when_full = false;

  static BufferConfig Unbounded() { return {.shut_down_when_full = true}; }
  static BufferConfig MaxRecords(int64_t records) { return BufferConfig{}.WithMaxRecords(records); }
  static BufferConfig MaxBytes(int64_t bytes) { return BufferConfig{}.WithMaxBytes(bytes); }
  BufferConfig WithMaxRecords(int64_t records) const {
    BufferConfig copy = *this;
    copy.max_records = records;
    return copy;
  }
  BufferConfig WithMaxBytes(int64_t bytes) const {
    BufferConfig copy = *this;
    copy.max_bytes = bytes;
    return copy;
  }
  BufferConfig EmitEarlyWhenFull() const {
    BufferConfig copy = *this;
    copy.shut_down_when_full = false;
    return copy;
  }
  BufferConfig ShutDownWhenFull() const {
    BufferConfig copy = *this;
    copy.shut_down_when_full = true;
    return copy;
  }
};

// How KTable::Suppress holds back a table's updates (Kafka Streams' Suppressed):
// UntilWindowCloses - one final result per window of a windowed table, when stream time passes
// the window's end plus its grace (the buffer must not emit early: Unbounded() or
// ShutDownWhenFull()); UntilTimeLimit - a key's latest update, `time_limit_ms` of stream time
// after the key's first update was buffered.
struct Suppressed {
  bool until_window_closes = false;
  int64_t time_limit_ms = 0;
  BufferConfig buffer;
  static Suppressed UntilWindowCloses(BufferConfig buffer) {
    return {.until_window_closes = true, .buffer = buffer};
  }
  static Suppressed UntilTimeLimit(int64_t time_limit_ms, BufferConfig buffer) {
    return {.time_limit_ms = time_limit_ms, .buffer = buffer};
  }
};

// The store behind a table or an aggregation: its name and its values' serde (Kafka Streams'
// Materialized); an empty name is generated. Retention is for windowed stores' (window size +
// grace by default).
template <typename VA>
struct Materialized {
  std::string store_name;
  SerdePtr<VA> value_serde;
  int64_t retention_ms = 0;
  static Materialized As(std::string name) { return {std::move(name), nullptr, 0}; }
  Materialized WithValueSerde(SerdePtr<VA> serde) const {
    Materialized copy = *this;
    copy.value_serde = std::move(serde);
    return copy;
  }
  Materialized WithRetention(int64_t retention) const {
    Materialized copy = *this;
    copy.retention_ms = retention;
    return copy;
  }
};

}  // namespace weir

#endif  // WEIR_ENGINE_DSL_BUILDER_STATE_H_
