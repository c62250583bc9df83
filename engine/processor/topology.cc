#include "engine/processor/topology.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir {
namespace {

const char* KindName(Topology::NodeKind kind) {
  switch (kind) {
    case Topology::NodeKind::kSource:
      return "Source";
    case Topology::NodeKind::kProcessor:
      return "Processor";
    case Topology::NodeKind::kSink:
      return "Sink";
  }
  return "?";
}

// Union-find over node indices.
int Root(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

void Topology::Fail(std::string message) {
  if (status_.ok()) status_ = absl::InvalidArgumentError(std::move(message));
}

int Topology::FindNode(absl::string_view name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void Topology::Add(NodeSpec spec, const std::vector<std::string>& parents) {
  if (!status_.ok()) return;
  if (spec.name.empty()) return Fail("a node needs a name");
  if (FindNode(spec.name) >= 0) {
    return Fail(absl::StrCat("node name '", spec.name, "' is already used"));
  }
  if (spec.kind != NodeKind::kSource && parents.empty()) {
    return Fail(absl::StrCat("node '", spec.name, "' needs at least one parent"));
  }
  if ((spec.kind == NodeKind::kSource && spec.topics.empty()) ||
      std::any_of(spec.topics.begin(), spec.topics.end(),
                  [](const std::string& t) { return t.empty(); })) {
    return Fail(absl::StrCat("node '", spec.name, "' needs a topic name"));
  }
  const int index = static_cast<int>(nodes_.size());
  for (const std::string& parent_name : parents) {
    const int parent = FindNode(parent_name);
    if (parent < 0) {
      return Fail(absl::StrCat("node '", spec.name, "': parent '", parent_name,
                               "' does not exist (add parents first)"));
    }
    if (nodes_[parent].kind == NodeKind::kSink) {
      return Fail(absl::StrCat("node '", spec.name, "': parent '", parent_name,
                               "' is a sink, which has no output"));
    }
    if (nodes_[parent].output_type != spec.input_type) {
      return Fail(absl::StrCat("node '", spec.name, "' takes ", spec.input_type.name(),
                               " but parent '", parent_name, "' outputs ",
                               nodes_[parent].output_type.name()));
    }
    spec.parents.push_back(parent);
  }
  for (int parent : spec.parents) nodes_[parent].children.push_back(index);
  nodes_.push_back(std::move(spec));
}

bool Topology::AddStore(StoreSpec spec) {
  if (!status_.ok()) return false;
  for (const StoreSpec& store : stores_) {
    if (store.name == spec.name) {
      Fail(absl::StrCat("store name '", spec.name, "' is already used"));
      return false;
    }
  }
  if (spec.name.empty()) {
    Fail(absl::StrCat("a ", spec.kind == StoreKind::kWindow ? "window" : "key-value",
                      " store needs a name"));
    return false;
  }
  stores_.push_back(std::move(spec));
  return true;
}

Topology& Topology::AddWindowStore(WindowStoreOptions options,
                                   std::vector<std::string> processors) {
  if (options.retention_ms <= 0) {
    Fail(absl::StrCat("window store '", options.name, "' needs a positive retention"));
    return *this;
  }
  const std::string name = options.name;
  if (!AddStore({.name = name, .kind = StoreKind::kWindow, .window = std::move(options)})) {
    return *this;
  }
  return ConnectStore(name, processors);
}

Topology& Topology::AddKeyValueStore(KeyValueStoreOptions options,
                                     std::vector<std::string> processors) {
  if (options.retention_ms < 0) {
    Fail(absl::StrCat("key-value store '", options.name, "' has a negative retention"));
    return *this;
  }
  const std::string name = options.name;
  if (!AddStore({.name = name,
                 .kind = StoreKind::kKeyValue,
                 .window = {.name = name},
                 .keyvalue = std::move(options)})) {
    return *this;
  }
  return ConnectStore(name, processors);
}

Topology& Topology::ConnectStore(const std::string& store,
                                 const std::vector<std::string>& processors) {
  if (!status_.ok()) return *this;
  if (std::none_of(stores_.begin(), stores_.end(),
                   [&](const StoreSpec& s) { return s.name == store; })) {
    Fail(absl::StrCat("store '", store, "' does not exist"));
    return *this;
  }
  for (const std::string& processor : processors) {
    const int index = FindNode(processor);
    if (index < 0 || nodes_[index].kind != NodeKind::kProcessor) {
      Fail(absl::StrCat("store '", store, "': '", processor, "' is not a processor"));
      return *this;
    }
    nodes_[index].stores.push_back(store);
  }
  return *this;
}

Topology& Topology::CoPartition(std::vector<std::string> nodes) {
  if (!status_.ok()) return *this;
  for (const std::string& node : nodes) {
    if (FindNode(node) < 0) {
      Fail(absl::StrCat("co-partitioning names node '", node, "', which does not exist"));
      return *this;
    }
  }
  copartition_groups_.push_back(std::move(nodes));
  return *this;
}

std::set<std::string> Topology::InputTopicsOf(int node) const {
  std::set<std::string> topics;
  std::vector<int> todo = {node};
  std::set<int> seen;
  while (!todo.empty()) {
    const int at = todo.back();
    todo.pop_back();
    if (!seen.insert(at).second) continue;
    const NodeSpec& spec = nodes_[at];
    if (spec.kind == NodeKind::kSource && !spec.internal_topics) {
      topics.insert(spec.topics.begin(), spec.topics.end());
    }
    todo.insert(todo.end(), spec.parents.begin(), spec.parents.end());
  }
  return topics;
}

Topology& Topology::AddGlobalStore(GlobalStoreSpec spec) {
  if (!status_.ok()) return *this;
  const auto named = [&](const auto& s) { return s.name == spec.store; };
  const bool taken = std::any_of(stores_.begin(), stores_.end(), named) ||
                     std::any_of(global_stores_.begin(), global_stores_.end(),
                                 [&](const GlobalStoreSpec& g) { return g.store == spec.store; });
  if (spec.store.empty() || spec.topic.empty() || !spec.apply) {
    Fail(absl::StrCat("global store '", spec.store, "' needs a name, a topic and an apply"));
  } else if (taken) {
    Fail(absl::StrCat("global store '", spec.store, "': a store of that name exists"));
  } else {
    for (const NodeSpec& node : nodes_) {
      if (node.kind == NodeKind::kSource &&
          std::find(node.topics.begin(), node.topics.end(), spec.topic) != node.topics.end()) {
        Fail(absl::StrCat("global store '", spec.store, "' reads topic '", spec.topic,
                          "', which source '", node.name, "' reads too"));
        return *this;
      }
    }
    global_stores_.push_back(std::move(spec));
  }
  return *this;
}

Topology& Topology::AddQueryableStore(QueryableStore view) {
  if (!status_.ok()) return *this;
  if (view.name.empty() || !view.parse || !view.read) {
    Fail(absl::StrCat("queryable store '", view.name, "' needs a name, a parse and a read"));
  } else if (std::none_of(stores_.begin(), stores_.end(),
                          [&](const StoreSpec& s) { return s.name == view.store; })) {
    Fail(absl::StrCat("queryable store '", view.name, "': store '", view.store,
                      "' does not exist"));
  } else if (FindQueryableStore(view.name, view.kind) != nullptr) {
    Fail(absl::StrCat("queryable store '", view.name, "' is declared twice"));
  } else {
    queryable_.push_back(std::move(view));
  }
  return *this;
}

const QueryableStore* Topology::FindQueryableStore(absl::string_view name,
                                                   QueryableStore::Kind kind) const {
  for (const QueryableStore& view : queryable_) {
    if (view.name == name && view.kind == kind) return &view;
  }
  return nullptr;
}

std::vector<Topology::Subtopology> Topology::Subtopologies() const {
  std::vector<int> parent(nodes_.size());
  std::iota(parent.begin(), parent.end(), 0);
  const auto join = [&](int a, int b) { parent[Root(parent, a)] = Root(parent, b); };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (int p : nodes_[i].parents) join(static_cast<int>(i), p);
  }
  for (const StoreSpec& store : stores_) {
    int first = -1;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const auto& s = nodes_[i].stores;
      if (std::find(s.begin(), s.end(), store.name) == s.end()) continue;
      if (first < 0) {
        first = static_cast<int>(i);
      } else {
        join(static_cast<int>(i), first);
      }
    }
  }
  std::vector<Subtopology> result;
  std::vector<int> id_of_root(nodes_.size(), -1);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const int root = Root(parent, static_cast<int>(i));
    if (id_of_root[root] < 0) {
      id_of_root[root] = static_cast<int>(result.size());
      result.push_back({.id = id_of_root[root]});
    }
    Subtopology& sub = result[id_of_root[root]];
    sub.nodes.push_back(static_cast<int>(i));
    for (const std::string& store : nodes_[i].stores) {
      for (size_t s = 0; s < stores_.size(); ++s) {
        if (stores_[s].name == store &&
            std::find(sub.stores.begin(), sub.stores.end(), s) == sub.stores.end()) {
          sub.stores.push_back(static_cast<int>(s));
        }
      }
    }
  }
  return result;
}

std::string Topology::Describe() const {
  std::string text = "Topologies:\n";
  const auto names = [&](const std::vector<int>& indices) {
    return absl::StrJoin(indices, ", ",
                         [&](std::string* out, int i) { absl::StrAppend(out, nodes_[i].name); });
  };
  for (const Subtopology& sub : Subtopologies()) {
    absl::StrAppend(&text, "   Sub-topology: ", sub.id, "\n");
    for (int i : sub.nodes) {
      const NodeSpec& node = nodes_[i];
      absl::StrAppend(&text, "    ", KindName(node.kind), ": ", node.name);
      const std::string prefix = node.internal_topics ? "<application.id>-" : "";
      switch (node.kind) {
        case NodeKind::kSource:
          absl::StrAppend(&text, " (topics: [",
                          absl::StrJoin(node.topics, ", ",
                                        [&](std::string* out, const std::string& t) {
                                          absl::StrAppend(out, prefix, t);
                                        }),
                          "])\n");
          break;
        case NodeKind::kProcessor:
          absl::StrAppend(&text, " (stores: [", absl::StrJoin(node.stores, ", "), "])\n");
          break;
        case NodeKind::kSink:
          absl::StrAppend(&text, " (topic: ", prefix, node.topics[0], ")\n");
          break;
      }
      if (!node.children.empty()) absl::StrAppend(&text, "      --> ", names(node.children), "\n");
      if (!node.parents.empty()) absl::StrAppend(&text, "      <-- ", names(node.parents), "\n");
    }
    absl::StrAppend(&text, "\n");
  }
  // Kafka Streams numbers global stores' sub-topologies after the others.
  int id = static_cast<int>(Subtopologies().size());
  for (const GlobalStoreSpec& global : global_stores_) {
    absl::StrAppend(&text, "   Sub-topology: ", id++, " for global store (will not generate tasks)\n",
                    "    Source: ", global.source_name, " (topics: [", global.topic, "])\n",
                    "      --> ", global.processor_name, "\n", "    Processor: ",
                    global.processor_name, " (stores: [", global.store, "])\n",
                    "      --> none\n", "      <-- ", global.source_name, "\n\n");
  }
  return text;
}

}  // namespace weir
