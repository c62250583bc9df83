// Declarative configuration schemas: a component declares its keys once, and the YAML loader,
// validation, `--set key=value` overrides and the documentation table all come from that one
// declaration.
//
// Example:
//
//   struct BrokerOptions {
//     int64_t brokers = 3;                  // how many mock brokers
//     std::vector<std::string> topics;      // NAME:PARTITIONS
//   };
//
//   const config::Schema<BrokerOptions>& Schema() {
//     static const auto* schema = &(*new config::Schema<BrokerOptions>())
//         .Int("broker.brokers", &BrokerOptions::brokers, 1, 16, "Number of brokers.")
//         .StringList("broker.topics", &BrokerOptions::topics, "Topics to create.");
//     return *schema;
//   }
//
//   BrokerOptions options;
//   absl::Status s = Schema().LoadFile("config/weir.yaml", options);
//
// File format. A YAML mapping whose keys are the declared keys. Nested mappings are flattened
// with '.', so `application: {id: x}` is the key `application.id`. Keys that start with a
// declared passthrough prefix (such as `kafka.`) are collected verbatim as strings.
//
// Errors. Every failure is an InvalidArgument status whose message names the file (or the
// `--set` flag), the line, the key and what was expected, e.g.
//   config/weir.yaml:4: key 'num.stream.threads': expected an integer in [0, 256], got 'two'
// Unknown keys, duplicate keys, wrong types and out-of-range values are all errors.
//
// Paths. A path value is resolved against the directory of the file that sets it, or against
// the working directory for `--set`, so a config file can name its neighbours portably.
//
// Concurrency: a Schema is immutable after construction and may be shared by threads.
#ifndef WEIR_COMMON_CONFIG_SCHEMA_H_
#define WEIR_COMMON_CONFIG_SCHEMA_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace YAML {
class Node;
}

namespace weir::config {

// Where a value comes from; used to resolve relative paths and to word errors.
struct Origin {
  std::string where;     // "config/weir.yaml" or "--set"
  std::string base_dir;  // directory relative paths are resolved against; "" = cwd
  int line = 0;          // 1-based line in `where`, 0 when unknown
};

// Whether `key` names a secret (a password, a secret, a private key, SASL's JAAS or OAUTHBEARER
// configuration, a token): its value is never printed, nor in the provenance of `--set`.
bool IsSecretKey(absl::string_view key);

// Which keys a load set, and where: key -> "config/weir.yaml:4" or "--set key=value" (a secret
// key's value is written "******").
using Provenance = std::map<std::string, std::string>;

// An InvalidArgument for a cross-key rule, worded like the loader's own errors:
// "<where key was set>: key '<key>': <why>". `unset_where` names the place when the key kept its
// default (the file being loaded, or "defaults").
absl::Status KeyError(const Provenance& provenance, const std::string& key,
                      absl::string_view unset_where, absl::string_view why);

// Type-erased schema; use Schema<Options> below.
class SchemaBase {
 public:
  // One declared key.
  struct Field {
    std::string key;
    std::string type;      // for docs: "integer", "bytes", "path", ...
    std::string expected;  // for errors: "an integer in [1, 64]"
    std::string doc;
    bool is_prefix = false;  // a passthrough prefix such as "kafka."
    // Parses `value` into the options object; returns InvalidArgument with just the
    // expectation problem (the caller adds file, line and key).
    std::function<absl::Status(const YAML::Node& value, const Origin& origin, void* options)> apply;
    std::function<absl::Status(absl::string_view key, const YAML::Node& value, void* options)>
        apply_prefixed;
    std::function<std::string(const void* options)> render;  // current value as text
    // For prefixes: the collected properties, prefix removed.
    std::function<const std::map<std::string, std::string>&(const void* options)> prefixed;
  };

  const std::vector<Field>& fields() const { return fields_; }

 protected:
  absl::Status LoadFileImpl(const std::string& path, void* options, Provenance* provenance) const;
  absl::Status SetImpl(absl::string_view assignment, void* options, Provenance* provenance) const;
  std::string MarkdownTableImpl(const void* defaults) const;
  std::string DumpImpl(const void* options, const Provenance& provenance) const;

  void Add(Field field) { fields_.push_back(std::move(field)); }

 private:
  absl::Status ApplyKey(const std::string& key, const YAML::Node& value, const Origin& origin,
                        void* options, Provenance* provenance) const;
  absl::Status ApplyMap(const std::string& prefix, const YAML::Node& map, const Origin& where,
                        void* options, Provenance* provenance) const;
  std::string Suggest(absl::string_view key) const;

  std::vector<Field> fields_;
};

// The schema of one options struct. Declare keys with the builder methods, then load.
template <typename Options>
class Schema : public SchemaBase {
 public:
  // An integer in [min, max].
  Schema& Int(std::string key, int64_t Options::*member, int64_t min, int64_t max, std::string doc);
  // A byte size: an integer, or a string with a KiB/MiB/GiB suffix ("64MiB"), in [min, max].
  Schema& Bytes(std::string key, int64_t Options::*member, int64_t min, int64_t max,
                std::string doc);
  Schema& Bool(std::string key, bool Options::*member, std::string doc);
  // Any string; when `non_empty`, the empty string is rejected.
  Schema& String(std::string key, std::string Options::*member, std::string doc);
  // One of the names in `values`, stored as its enumerator: the program never compares the
  // configured string (names in the order the docs list them).
  template <typename E>
  Schema& Enum(std::string key, E Options::*member, std::vector<std::pair<std::string, E>> values,
               std::string doc);
  // A filesystem path, resolved against the directory of the file that sets it.
  Schema& Path(std::string key, std::string Options::*member, std::string doc);
  // A list of strings (a YAML sequence, or one string).
  Schema& StringList(std::string key, std::vector<std::string> Options::*member, std::string doc);
  // Every key starting with `prefix` (e.g. "kafka.") is stored, prefix removed, as a string.
  Schema& Prefix(std::string prefix, std::map<std::string, std::string> Options::*member,
                 std::string doc);

  // Applies the keys of the YAML file at `path` on top of `options`. On error `options` may be
  // partly updated. `provenance`, when given, records every key the file set and where.
  absl::Status LoadFile(const std::string& path, Options& options,
                        Provenance* provenance = nullptr) const {
    return LoadFileImpl(path, &options, provenance);
  }
  // Applies one `key=value` override; the value is read as a YAML scalar or flow sequence.
  absl::Status Set(absl::string_view assignment, Options& options,
                   Provenance* provenance = nullptr) const {
    return SetImpl(assignment, &options, provenance);
  }
  // The effective configuration as YAML, each key commented with where it was set. Values of
  // keys that look secret (password, secret, key material) are masked.
  std::string Dump(const Options& options, const Provenance& provenance) const {
    return DumpImpl(&options, provenance);
  }
  // The documentation table (Markdown): key, type, default, meaning.
  std::string MarkdownTable() const {
    const Options defaults{};
    return MarkdownTableImpl(&defaults);
  }
};

// ---- Implementation details below. ----

namespace internal {
absl::Status ParseInt(const YAML::Node& value, int64_t min, int64_t max, bool bytes, int64_t* out);
absl::Status ParseBool(const YAML::Node& value, bool* out);
absl::Status ParseString(const YAML::Node& value, std::string* out);
// The index in `names` of the scalar `value`, or an error listing the names.
absl::StatusOr<size_t> ParseEnum(const YAML::Node& value, const std::vector<std::string>& names);
absl::Status ParsePath(const YAML::Node& value, const Origin& origin, std::string* out);
absl::Status ParseStringList(const YAML::Node& value, std::vector<std::string>* out);
std::string IntExpectation(int64_t min, int64_t max, bool bytes);
std::string RenderBytes(int64_t bytes);
std::string RenderList(const std::vector<std::string>& list);
std::string JoinQuoted(const std::vector<std::string>& values);
}  // namespace internal

template <typename Options>
Schema<Options>& Schema<Options>::Int(std::string key, int64_t Options::*member, int64_t min,
                                      int64_t max, std::string doc) {
  Add({.key = std::move(key),
       .type = "integer",
       .expected = internal::IntExpectation(min, max, false),
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) {
             return internal::ParseInt(v, min, max, false, &(static_cast<Options*>(o)->*member));
           },
       .render =
           [=](const void* o) { return std::to_string(static_cast<const Options*>(o)->*member); }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::Bytes(std::string key, int64_t Options::*member, int64_t min,
                                        int64_t max, std::string doc) {
  Add({.key = std::move(key),
       .type = "bytes",
       .expected = internal::IntExpectation(min, max, true),
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) {
             return internal::ParseInt(v, min, max, true, &(static_cast<Options*>(o)->*member));
           },
       .render =
           [=](const void* o) {
             return internal::RenderBytes(static_cast<const Options*>(o)->*member);
           }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::Bool(std::string key, bool Options::*member, std::string doc) {
  Add({.key = std::move(key),
       .type = "boolean",
       .expected = "true or false",
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) {
             return internal::ParseBool(v, &(static_cast<Options*>(o)->*member));
           },
       .render =
           [=](const void* o) {
             return std::string(static_cast<const Options*>(o)->*member ? "true" : "false");
           }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::String(std::string key, std::string Options::*member,
                                         std::string doc) {
  Add({.key = std::move(key),
       .type = "string",
       .expected = "a string",
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) {
             return internal::ParseString(v, &(static_cast<Options*>(o)->*member));
           },
       .render = [=](const void* o) { return static_cast<const Options*>(o)->*member; }});
  return *this;
}

template <typename Options>
template <typename E>
Schema<Options>& Schema<Options>::Enum(std::string key, E Options::*member,
                                       std::vector<std::pair<std::string, E>> values,
                                       std::string doc) {
  std::vector<std::string> names;
  for (const auto& [name, value] : values) names.push_back(name);
  std::string expected = "one of " + internal::JoinQuoted(names);
  Add({.key = std::move(key),
       .type = "enum",
       .expected = std::move(expected),
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) -> absl::Status {
             absl::StatusOr<size_t> index = internal::ParseEnum(v, names);
             if (!index.ok()) return index.status();
             static_cast<Options*>(o)->*member = values[*index].second;
             return absl::OkStatus();
           },
       .render =
           [=](const void* o) {
             const E current = static_cast<const Options*>(o)->*member;
             for (const auto& [name, value] : values) {
               if (value == current) return name;
             }
             return std::string("?");  // not reachable: members only hold listed values
           }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::Path(std::string key, std::string Options::*member,
                                       std::string doc) {
  Add({.key = std::move(key),
       .type = "path",
       .expected = "a file system path",
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin& origin, void* o) {
             return internal::ParsePath(v, origin, &(static_cast<Options*>(o)->*member));
           },
       .render = [=](const void* o) { return static_cast<const Options*>(o)->*member; }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::StringList(std::string key,
                                             std::vector<std::string> Options::*member,
                                             std::string doc) {
  Add({.key = std::move(key),
       .type = "list of strings",
       .expected = "a list of strings",
       .doc = std::move(doc),
       .apply =
           [=](const YAML::Node& v, const Origin&, void* o) {
             return internal::ParseStringList(v, &(static_cast<Options*>(o)->*member));
           },
       .render =
           [=](const void* o) {
             return internal::RenderList(static_cast<const Options*>(o)->*member);
           }});
  return *this;
}

template <typename Options>
Schema<Options>& Schema<Options>::Prefix(std::string prefix,
                                         std::map<std::string, std::string> Options::*member,
                                         std::string doc) {
  Add({.key = std::move(prefix),
       .type = "string",
       .expected = "a scalar value",
       .doc = std::move(doc),
       .is_prefix = true,
       .apply_prefixed =
           [=](absl::string_view rest, const YAML::Node& v, void* o) {
             std::string text;
             absl::Status s = internal::ParseString(v, &text);
             if (s.ok()) (static_cast<Options*>(o)->*member)[std::string(rest)] = text;
             return s;
           },
       .render = [](const void*) { return std::string(); },
       .prefixed = [=](const void* o) -> const std::map<std::string, std::string>& {
         return static_cast<const Options*>(o)->*member;
       }});
  return *this;
}

}  // namespace weir::config

#endif  // WEIR_COMMON_CONFIG_SCHEMA_H_
