// A topology: the graph of sources, processors, sinks and state stores a weir application runs
// (Kafka Streams' Topology). Build one with the Processor API below, or with the DSL
// (engine/dsl/streams_builder.h), which produces one.
//
//   Topology topology;
//   topology.AddSource<std::string, std::string>("in", {"payments"}, serdes::String(),
//                                                  serdes::String())
//       .AddProcessor<std::string, std::string, std::string, std::string>(
//           "upper", [] { return std::make_unique<Upper>(); }, {"in"})
//       .AddSink<std::string, std::string>("out", "upper-payments", serdes::String(),
//                                          serdes::String(), {"upper"});
//   if (!topology.status().ok()) ...;
//   std::cout << topology.Describe();
//
// Building. Node names are unique; a node's parents must exist already and output the record type
// the node takes (checked when it is added). The first mistake is kept in status(); later calls
// are ignored, so a chain of calls needs one check at the end.
//
// Sub-topologies. Nodes connected through parent links or a shared store form a sub-topology,
// numbered in the order their first node was added; one task runs each sub-topology per input
// partition. Internal topics (repartition topics) are named "<application.id>-<name>" at run time.
//
// Concurrency: build on one thread; a built topology is immutable and shared by all tasks.
#ifndef WEIR_ENGINE_PROCESSOR_TOPOLOGY_H_
#define WEIR_ENGINE_PROCESSOR_TOPOLOGY_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <typeindex>
#include <vector>

#include "absl/status/status.h"
#include "engine/processor/node.h"
#include "engine/processor/processor.h"
#include "engine/processor/serde.h"
#include "engine/processor/state_query.h"
#include "stores/key_value_store.h"
#include "stores/key_value_store_options.h"
#include "stores/window_store.h"

namespace weir {

// The instance's global stores by name (null for none of that name): what tasks' processors
// read them through.
using GlobalStoreFinder = std::function<StateStore*(absl::string_view name)>;

class Topology {
 public:
  enum class NodeKind { kSource, kProcessor, kSink };

  // One node of the graph: the recipe for its per-task instances.
  struct NodeSpec {
    std::string name;
    NodeKind kind = NodeKind::kProcessor;
    std::vector<std::string> topics;  // a source's topics, or a sink's one topic
    bool internal_topics = false;     // topics named "<application.id>-<topic>" at run time
    std::vector<int> parents;         // indices into nodes()
    std::vector<int> children;
    std::vector<std::string> stores;
    std::type_index input_type = typeid(void);
    std::type_index output_type = typeid(void);
    // Makes the node's instance for one task from this spec.
    std::function<std::unique_ptr<nodes::NodeBase>(const NodeSpec& spec)> make;
  };

  enum class StoreKind { kKeyValue, kWindow };
  struct StoreSpec {
    std::string name;
    StoreKind kind = StoreKind::kKeyValue;
    WindowStoreOptions window;        // a window store's
    KeyValueStoreOptions keyvalue;    // a key-value store's
  };

  // A global store (Kafka Streams' global state store, behind a GlobalKTable): every instance
  // keeps all of `topic`'s records in it. A global stream thread fills it before any stream
  // thread processes a record and keeps it current; any processor of any task may read it
  // (ProcessorContext::GetStateStore) without being connected to it, and none may write it. It
  // has no changelog: the topic is its log.
  struct GlobalStoreSpec {
    std::string store;
    std::string topic;
    // The names Describe() gives the source reading `topic` and the processor updating `store`.
    std::string source_name;
    std::string processor_name;
    // Applies one record of `topic` to the store: InvalidArgument (nothing written) for a
    // record whose key or value does not deserialize.
    std::function<absl::Status(const RawRecord& record, KeyValueBytesStore& store)> apply;
  };

  struct Subtopology {
    int id = 0;
    std::vector<int> nodes;   // indices into nodes(), parents before children
    std::vector<int> stores;  // indices into stores()
  };

  // A source reading `topics`. `extractor` picks the event time; by default the Kafka timestamp.
  template <typename K, typename V>
  Topology& AddSource(std::string name, std::vector<std::string> topics, SerdePtr<K> key_serde,
                      SerdePtr<V> value_serde, TimestampExtractor<K, V> extractor = {},
                      bool internal_topics = false);

  // A processor fed by `parents`; `supplier` makes one processor per task.
  template <typename KIn, typename VIn, typename KOut, typename VOut>
  Topology& AddProcessor(std::string name, ProcessorSupplier<KIn, VIn, KOut, VOut> supplier,
                         std::vector<std::string> parents);

  // A sink writing what `parents` forward to `topic`.
  template <typename K, typename V>
  Topology& AddSink(std::string name, std::string topic, SerdePtr<K> key_serde,
                    SerdePtr<V> value_serde, std::vector<std::string> parents,
                    bool internal_topic = false);

  // A window store, connected to `processors` (which may also be connected later).
  Topology& AddWindowStore(WindowStoreOptions options, std::vector<std::string> processors);
  // A key-value store (KeyValueBytesStore), connected to `processors`.
  Topology& AddKeyValueStore(KeyValueStoreOptions options, std::vector<std::string> processors);
  Topology& AddKeyValueStore(std::string name, std::vector<std::string> processors) {
    return AddKeyValueStore(KeyValueStoreOptions{.name = std::move(name)}, std::move(processors));
  }
  Topology& ConnectStore(const std::string& store, const std::vector<std::string>& processors);
  // Declares that what reaches `nodes` must be co-partitioned (the two sides of a join): the
  // input topics that feed them, through any chain of processors, must have as many partitions
  // each, or the instance refuses to start, naming them. Repartition topics always have the
  // input's largest count.
  Topology& CoPartition(std::vector<std::string> nodes);
  // The input (not internal) topics whose records reach `node`.
  std::set<std::string> InputTopicsOf(int node) const;
  const std::vector<std::vector<std::string>>& copartition_groups() const {
    return copartition_groups_;
  }
  // A global store; its store name is unique among all stores, and its topic is read by no
  // source.
  Topology& AddGlobalStore(GlobalStoreSpec spec);
  // A view of store `view.store` that interactive queries may read
  // (engine/processor/state_query.h); its name is unique among views of its kind, and its functions
  // are set.
  Topology& AddQueryableStore(QueryableStore view);
  // Rewrites the input records the engine itself dead-letters (undeserializable, misplaced)
  // before they are sent: a topology whose input holds secrets (card numbers) masks them there
  // as its own dead letters do. Default: the record as read.
  Topology& SetDeadLetterRedactor(std::function<void(RawRecord&)> redact) {
    redact_dead_letter_ = std::move(redact);
    return *this;
  }
  const std::function<void(RawRecord&)>& dead_letter_redactor() const {
    return redact_dead_letter_;
  }

  // OK, or the first building mistake (InvalidArgument naming the nodes involved).
  const absl::Status& status() const { return status_; }

  // Sub-topologies, sources, processors, stores and sinks, in Kafka Streams'
  // TopologyDescription layout.
  std::string Describe() const;

  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const std::vector<StoreSpec>& stores() const { return stores_; }
  const std::vector<QueryableStore>& queryable_stores() const { return queryable_; }
  const std::vector<GlobalStoreSpec>& global_stores() const { return global_stores_; }
  // The view called `name` of `kind`, or null.
  const QueryableStore* FindQueryableStore(absl::string_view name,
                                           QueryableStore::Kind kind) const;
  std::vector<Subtopology> Subtopologies() const;
  // Index of the node called `name`, or -1.
  int FindNode(absl::string_view name) const;

 private:
  // Appends a store unless its name is taken or empty; false after a failure.
  bool AddStore(StoreSpec spec);
  // Validates and appends `spec`; links it to its parents.
  void Add(NodeSpec spec, const std::vector<std::string>& parents);
  void Fail(std::string message);

  std::vector<NodeSpec> nodes_;
  std::vector<StoreSpec> stores_;
  std::vector<QueryableStore> queryable_;
  std::vector<GlobalStoreSpec> global_stores_;
  std::vector<std::vector<std::string>> copartition_groups_;
  std::function<void(RawRecord&)> redact_dead_letter_;
  absl::Status status_;
};

// ---- Template definitions. ----

template <typename K, typename V>
Topology& Topology::AddSource(std::string name, std::vector<std::string> topics,
                              SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                              TimestampExtractor<K, V> extractor, bool internal_topics) {
  NodeSpec spec{.name = name,
                .kind = NodeKind::kSource,
                .topics = std::move(topics),
                .internal_topics = internal_topics,
                .output_type = typeid(Record<K, V>),
                .make = [key_serde, value_serde, extractor](const NodeSpec& spec) {
                  return std::make_unique<nodes::SourceNode<K, V>>(spec.name, key_serde,
                                                                      value_serde, extractor);
                }};
  Add(std::move(spec), {});
  return *this;
}

template <typename KIn, typename VIn, typename KOut, typename VOut>
Topology& Topology::AddProcessor(std::string name, ProcessorSupplier<KIn, VIn, KOut, VOut> supplier,
                                 std::vector<std::string> parents) {
  NodeSpec spec{.name = name,
                .kind = NodeKind::kProcessor,
                .input_type = typeid(Record<KIn, VIn>),
                .output_type = typeid(Record<KOut, VOut>),
                .make = [supplier](const NodeSpec& spec) {
                  return std::make_unique<nodes::ProcessorNode<KIn, VIn, KOut, VOut>>(
                      spec.name, supplier(), spec.stores);
                }};
  Add(std::move(spec), parents);
  return *this;
}

template <typename K, typename V>
Topology& Topology::AddSink(std::string name, std::string topic, SerdePtr<K> key_serde,
                            SerdePtr<V> value_serde, std::vector<std::string> parents,
                            bool internal_topic) {
  NodeSpec spec{.name = name,
                .kind = NodeKind::kSink,
                .topics = {topic},
                .internal_topics = internal_topic,
                .input_type = typeid(Record<K, V>),
                .make = [key_serde, value_serde](const NodeSpec& spec) {
                  return std::make_unique<nodes::SinkNode<K, V>>(
                      spec.name, spec.topics[0], spec.internal_topics, key_serde, value_serde);
                }};
  Add(std::move(spec), parents);
  return *this;
}

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_TOPOLOGY_H_
