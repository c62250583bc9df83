// Node instances: what a task runs. One instance of every node of a sub-topology per task, made
// by the topology's templates (engine/processor/topology.h) for the user's key and value types,
// which is why they live in a header. They reach the task that runs them only through NodeBase's
// out-of-line members (engine/processor/node.cc): the task's state
// (engine/processor/internal/task_context.h) is not visible here.
//
// Typing. Nodes pass typed records by const reference, depth first: a parent calls each child's
// Input<K, V>::Process in turn. Children are linked when the task is built, by a checked cast
// from NodeBase to Input<K, V>; the topology has already verified that the types agree.
#ifndef WEIR_ENGINE_PROCESSOR_NODE_H_
#define WEIR_ENGINE_PROCESSOR_NODE_H_

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "engine/processor/processor.h"
#include "engine/processor/record.h"
#include "engine/processor/serde.h"
#include "engine/processor/topic_name.h"

namespace weir::internal {
struct TaskContext;
}  // namespace weir::internal

namespace weir::nodes {

class NodeBase {
 public:
  explicit NodeBase(std::string name) : name_(std::move(name)) {}
  virtual ~NodeBase() = default;
  NodeBase(const NodeBase&) = delete;
  NodeBase& operator=(const NodeBase&) = delete;

  const std::string& name() const { return name_; }
  virtual void Init(internal::TaskContext& task) { task_ = &task; }
  virtual void Close() {}
  // Links `child` downstream. False when `child` does not take this node's output type.
  virtual bool Connect(NodeBase* child) = 0;

 protected:
  // What a node asks of its task (engine/processor/node.cc); valid after Init().
  int64_t stream_time() const;
  int64_t system_time_ms() const;
  // A source's record stamped `timestamp`: false (dropped and counted) when negative; else
  // advances stream time, records its end-to-end latency and returns true.
  bool AdmitSourceRecord(int64_t timestamp);
  // Sends a sink's record to `topic`, recording its end-to-end latency.
  void Send(const std::string& topic, RawRecord record);
  Cancellable SchedulePunctuation(int64_t interval_ms, PunctuationType type,
                                  std::function<void(int64_t)> punctuate);
  // The task's store called `name`, or null.
  StateStore* FindStore(absl::string_view name) const;
  // The instance's global store called `name`, or null.
  StateStore* FindGlobalStore(absl::string_view name) const;
  const std::optional<RecordMetadata>& record_metadata_of_task() const;
  TaskId task_id_of_task() const;
  const std::string& application_id_of_task() const;
  void Dropped(DropReason reason);
  void FailTask(absl::Status status);

 private:
  internal::TaskContext* task_ = nullptr;

 private:
  std::string name_;
};

template <typename K, typename V>
class Input {
 public:
  virtual ~Input() = default;
  virtual void Process(const Record<K, V>& record) = 0;
};

// The children of a node that outputs Record<K, V>.
template <typename K, typename V>
class Forwarder {
 public:
  bool Add(NodeBase* child) {
    auto* input = dynamic_cast<Input<K, V>*>(child);
    if (input == nullptr) return false;
    children_.push_back({child->name(), input});
    return true;
  }
  void ToAll(const Record<K, V>& record) const {
    for (const Child& child : children_) child.input->Process(record);
  }
  void To(const Record<K, V>& record, absl::string_view name) const {
    for (const Child& child : children_) {
      if (child.name == name) {
        child.input->Process(record);
        return;
      }
    }
    WEIR_CHECK(false) << "forward to '" << std::string(name) << "', which is not a child";
  }

 private:
  struct Child {
    std::string name;
    Input<K, V>* input;
  };
  std::vector<Child> children_;
};

// Null bytes become std::nullopt for a std::optional type and empty bytes for the serde of any
// other (engine/processor/serde.h, "Null keys and values").
template <typename T>
absl::Status DeserializeNullable(const Serde<T>& serde, const std::optional<std::string>& bytes,
                                 T& out) {
  if constexpr (Nullable<T>::kOptional) {
    if (!bytes.has_value()) {
      out.reset();
      return absl::OkStatus();
    }
  }
  return serde.DeserializeInto(bytes.has_value() ? absl::string_view(*bytes) : "", out);
}
template <typename T>
std::optional<std::string> SerializeNullable(const Serde<T>& serde, const T& value) {
  if (IsNull(value)) return std::nullopt;
  return serde.Serialize(value);
}

// A source: bytes from a topic in, typed records out.
class SourceNodeBase : public NodeBase {
 public:
  using NodeBase::NodeBase;
  // Deserializes `raw`, stamps its event time, advances stream time and forwards it. Returns
  // InvalidArgument (nothing forwarded) when the key or value cannot be deserialized; a record
  // with a negative event time is dropped and counted, and returns OK.
  virtual absl::Status ProcessRaw(const RawRecord& raw) = 0;
};

template <typename K, typename V>
class SourceNode : public SourceNodeBase {
 public:
  SourceNode(std::string name, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
             TimestampExtractor<K, V> extractor)
      : SourceNodeBase(std::move(name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        extractor_(std::move(extractor)) {}

  bool Connect(NodeBase* child) override { return children_.Add(child); }

  absl::Status ProcessRaw(const RawRecord& raw) override {
    // Into the previous record's key and value (their buffers reused); they may view `raw`,
    // which outlives the record's processing: no copy of the bytes.
    Record<K, V>& record = record_;
    if (absl::Status key = DeserializeNullable(*key_serde_, raw.key, record.key); !key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("key: ", key.message()));
    }
    if (absl::Status value = DeserializeNullable(*value_serde_, raw.value, record.value);
        !value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("value: ", value.message()));
    }
    record.timestamp = raw.timestamp;
    record.headers = raw.headers;
    if (extractor_) record.timestamp = extractor_(record, stream_time());
    if (!AdmitSourceRecord(record.timestamp)) return absl::OkStatus();
    children_.ToAll(record);
    return absl::OkStatus();
  }

 private:
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  TimestampExtractor<K, V> extractor_;
  Forwarder<K, V> children_;
  Record<K, V> record_;  // the record being processed, reused
};

// Runs a user (or DSL) Processor, and is its context.
template <typename KIn, typename VIn, typename KOut, typename VOut>
class ProcessorNode : public NodeBase, public Input<KIn, VIn>, public ProcessorContext<KOut, VOut> {
 public:
  ProcessorNode(std::string name, std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor,
                std::vector<std::string> stores)
      : NodeBase(std::move(name)), processor_(std::move(processor)), stores_(std::move(stores)) {}

  bool Connect(NodeBase* child) override { return children_.Add(child); }
  void Init(internal::TaskContext& task) override {
    NodeBase::Init(task);
    processor_->Init(*this);
  }
  void Close() override { processor_->Close(); }
  void Process(const Record<KIn, VIn>& record) override { processor_->Process(record); }

  // ProcessorContext.
  void Forward(const Record<KOut, VOut>& record) override { children_.ToAll(record); }
  void Forward(const Record<KOut, VOut>& record, absl::string_view child) override {
    children_.To(record, child);
  }
  Cancellable Schedule(int64_t interval_ms, PunctuationType type,
                       std::function<void(int64_t)> punctuate) override {
    WEIR_CHECK(interval_ms > 0) << "punctuation interval of " << name();
    return SchedulePunctuation(interval_ms, type, std::move(punctuate));
  }
  StateStore* GetStateStoreBase(absl::string_view store) override {
    if (std::find(stores_.begin(), stores_.end(), store) == stores_.end()) {
      return FindGlobalStore(store);
    }
    return FindStore(store);
  }
  const std::optional<RecordMetadata>& record_metadata() const override {
    return record_metadata_of_task();
  }
  int64_t CurrentStreamTimeMs() const override { return stream_time(); }
  int64_t CurrentSystemTimeMs() const override { return system_time_ms(); }
  TaskId task_id() const override { return task_id_of_task(); }
  const std::string& application_id() const override { return application_id_of_task(); }
  void RecordDropped(DropReason reason) override { Dropped(reason); }
  void Fail(absl::Status status) override { FailTask(std::move(status)); }

 private:
  std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor_;
  std::vector<std::string> stores_;
  Forwarder<KOut, VOut> children_;
};

// A sink: typed records in, bytes to a topic out.
template <typename K, typename V>
class SinkNode : public NodeBase, public Input<K, V> {
 public:
  // An `internal` topic's name is prefixed with "<application.id>-" when the task starts.
  SinkNode(std::string name, std::string topic, bool internal, SerdePtr<K> key_serde,
           SerdePtr<V> value_serde)
      : NodeBase(std::move(name)),
        topic_(std::move(topic)),
        internal_(internal),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  bool Connect(NodeBase*) override { return false; }
  void Init(internal::TaskContext& task) override {
    NodeBase::Init(task);
    if (internal_) topic_ = InternalTopic(application_id_of_task(), topic_);
  }
  void Process(const Record<K, V>& record) override {
    Send(topic_, RawRecord{.key = SerializeNullable(*key_serde_, record.key),
                           .value = SerializeNullable(*value_serde_, record.value),
                           .timestamp = record.timestamp,
                           .headers = record.headers});
  }

 private:
  std::string topic_;
  bool internal_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

}  // namespace weir::nodes

#endif  // WEIR_ENGINE_PROCESSOR_NODE_H_
