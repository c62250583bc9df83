#include "common/config_schema.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace weir::config {
namespace internal {
namespace {

// How a YAML value reads in an error message.
std::string Describe(const YAML::Node& value) {
  if (!value.IsDefined() || value.IsNull()) return "nothing";
  if (value.IsSequence()) return "a list";
  if (value.IsMap()) return "a mapping";
  return absl::StrCat("'", value.Scalar(), "'");
}

absl::Status Expected(const std::string& expectation, const YAML::Node& value) {
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", expectation, ", got ", Describe(value)));
}

constexpr struct {
  absl::string_view suffix;
  int64_t factor;
} kByteSuffixes[] = {
    {"GiB", int64_t{1} << 30}, {"MiB", int64_t{1} << 20}, {"KiB", int64_t{1} << 10}, {"B", 1}};

}  // namespace

std::string IntExpectation(int64_t min, int64_t max, bool bytes) {
  std::string range = absl::StrCat("[", min, ", ", max, "]");
  return bytes ? absl::StrCat("a byte size in ", range, " (a number, or with KiB/MiB/GiB)")
               : absl::StrCat("an integer in ", range);
}

absl::Status ParseInt(const YAML::Node& value, int64_t min, int64_t max, bool bytes, int64_t* out) {
  const std::string expectation = IntExpectation(min, max, bytes);
  if (!value.IsScalar()) return Expected(expectation, value);
  absl::string_view text = absl::StripAsciiWhitespace(value.Scalar());
  int64_t factor = 1;
  if (bytes) {
    for (const auto& [suffix, f] : kByteSuffixes) {
      if (absl::EndsWith(text, suffix)) {
        text = absl::StripAsciiWhitespace(text.substr(0, text.size() - suffix.size()));
        factor = f;
        break;
      }
    }
  }
  int64_t parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Expected(expectation, value);
  }
  if (parsed != 0 && (parsed > max / factor || parsed < min / factor)) {
    return Expected(expectation, value);
  }
  parsed *= factor;
  if (parsed < min || parsed > max) return Expected(expectation, value);
  *out = parsed;
  return absl::OkStatus();
}

absl::Status ParseBool(const YAML::Node& value, bool* out) {
  if (value.IsScalar()) {
    const std::string text = absl::AsciiStrToLower(value.Scalar());
    if (text == "true") {
      *out = true;
      return absl::OkStatus();
    }
    if (text == "false") {
      *out = false;
      return absl::OkStatus();
    }
  }
  return Expected("true or false", value);
}

absl::Status ParseString(const YAML::Node& value, std::string* out) {
  if (!value.IsScalar()) return Expected("a string", value);
  *out = value.Scalar();
  return absl::OkStatus();
}

absl::StatusOr<size_t> ParseEnum(const YAML::Node& value, const std::vector<std::string>& names) {
  if (value.IsScalar()) {
    auto at = std::find(names.begin(), names.end(), value.Scalar());
    if (at != names.end()) return static_cast<size_t>(at - names.begin());
  }
  return Expected("one of " + JoinQuoted(names), value);
}

absl::Status ParsePath(const YAML::Node& value, const Origin& origin, std::string* out) {
  if (!value.IsScalar() || value.Scalar().empty()) {
    return Expected("a file system path", value);
  }
  std::filesystem::path path(value.Scalar());
  if (path.is_relative() && !origin.base_dir.empty()) path = origin.base_dir / path;
  *out = path.lexically_normal().string();
  return absl::OkStatus();
}

absl::Status ParseStringList(const YAML::Node& value, std::vector<std::string>* out) {
  std::vector<std::string> list;
  if (value.IsScalar()) {
    list.push_back(value.Scalar());
  } else if (value.IsSequence()) {
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) return Expected("a list of strings", value);
      list.push_back(item.Scalar());
    }
  } else if (!value.IsNull()) {
    return Expected("a list of strings", value);
  }
  *out = std::move(list);
  return absl::OkStatus();
}

std::string RenderBytes(int64_t bytes) {
  for (const auto& [suffix, factor] : kByteSuffixes) {
    if (factor > 1 && bytes != 0 && bytes % factor == 0) {
      return absl::StrCat(bytes / factor, suffix);
    }
  }
  return std::to_string(bytes);
}

std::string RenderList(const std::vector<std::string>& list) {
  return absl::StrCat("[", absl::StrJoin(list, ", "), "]");
}

std::string JoinQuoted(const std::vector<std::string>& values) {
  return absl::StrJoin(values, ", ", [](std::string* out, const std::string& v) {
    absl::StrAppend(out, "'", v, "'");
  });
}

}  // namespace internal

namespace {

std::string Location(const Origin& origin) {
  return origin.line > 0 ? absl::StrCat(origin.where, ":", origin.line) : origin.where;
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

absl::Status KeyError(const Provenance& provenance, const std::string& key,
                      absl::string_view unset_where, absl::string_view why) {
  auto it = provenance.find(key);
  const std::string where = it == provenance.end() ? std::string(unset_where) : it->second;
  return absl::InvalidArgumentError(absl::StrCat(where, ": key '", key, "': ", why));
}

std::string SchemaBase::Suggest(absl::string_view key) const {
  const Field* best = nullptr;
  size_t best_distance = 4;  // suggest only near misses
  for (const Field& field : fields_) {
    if (field.is_prefix) continue;
    // A truncated key ("block_cache" for "block_cache_size") counts as a near miss too.
    const bool truncated = key.size() >= 4 && absl::StartsWith(field.key, key);
    const size_t d = truncated ? 1 : EditDistance(key, field.key);
    if (d < best_distance) {
      best_distance = d;
      best = &field;
    }
  }
  return best == nullptr ? "" : absl::StrCat("; did you mean '", best->key, "'?");
}

absl::Status SchemaBase::ApplyKey(const std::string& key, const YAML::Node& value,
                                  const Origin& origin, void* options,
                                  Provenance* provenance) const {
  for (const Field& field : fields_) {
    absl::Status status;
    if (field.is_prefix && absl::StartsWith(key, field.key) && key.size() > field.key.size()) {
      status =
          field.apply_prefixed(absl::string_view(key).substr(field.key.size()), value, options);
    } else if (!field.is_prefix && field.key == key) {
      status = field.apply(value, origin, options);
    } else {
      continue;
    }
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Location(origin), ": key '", key, "': ", status.message()));
    }
    if (provenance != nullptr) (*provenance)[key] = Location(origin);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Location(origin), ": unknown key '", key, "'", Suggest(key)));
}

absl::Status SchemaBase::ApplyMap(const std::string& prefix, const YAML::Node& map,
                                  const Origin& where, void* options,
                                  Provenance* provenance) const {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    Origin origin = where;
    origin.line = entry.first.Mark().line + 1;
    if (!entry.first.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Location(origin), ": expected a key name, got a complex key"));
    }
    const std::string key = prefix + entry.first.Scalar();
    if (!seen.insert(entry.first.Scalar()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Location(origin), ": key '", key, "' is set twice"));
    }
    if (entry.second.IsMap()) {
      WEIR_RETURN_IF_ERROR(ApplyMap(key + ".", entry.second, where, options, provenance));
    } else {
      WEIR_RETURN_IF_ERROR(ApplyKey(key, entry.second, origin, options, provenance));
    }
  }
  return absl::OkStatus();
}

absl::Status SchemaBase::LoadFileImpl(const std::string& path, void* options,
                                      Provenance* provenance) const {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the config file: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": not valid YAML: ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file sets nothing
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a mapping of keys to values at the top level"));
  }
  const Origin origin{.where = path,
                      .base_dir = std::filesystem::path(path).parent_path().string()};
  try {
    return ApplyMap("", root, origin, options, provenance);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": not valid: ", e.msg));
  }
}

bool IsSecretKey(absl::string_view key) {
  const std::string lower = absl::AsciiStrToLower(key);
  for (absl::string_view marker :
       {"password", "secret", "token", "jaas", "oauthbearer.config", ".key", "key.pem", "_key"}) {
    if (absl::StrContains(lower, marker)) return true;
  }
  return false;
}

absl::Status SchemaBase::SetImpl(absl::string_view assignment, void* options,
                                 Provenance* provenance) const {
  const size_t eq = assignment.find('=');
  const bool secret = eq != absl::string_view::npos && IsSecretKey(assignment.substr(0, eq));
  const Origin origin{.where = secret ? absl::StrCat("--set ", assignment.substr(0, eq), "=******")
                                      : absl::StrCat("--set ", assignment)};
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin.where, ": expected KEY=VALUE, e.g. --set num.stream.threads=2"));
  }
  const std::string key(absl::StripAsciiWhitespace(assignment.substr(0, eq)));
  const std::string text(assignment.substr(eq + 1));
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin.where, ": key '", key, "': value is not valid YAML: ", e.msg));
  }
  if (value.IsNull() && text.empty()) value = YAML::Node(text);  // "key=" sets the empty string
  return ApplyKey(key, value, origin, options, provenance);
}

std::string SchemaBase::DumpImpl(const void* options, const Provenance& provenance) const {
  const auto where = [&](const std::string& key) {
    auto it = provenance.find(key);
    return it == provenance.end() ? std::string("default") : it->second;
  };
  const auto quoted = [](const std::string& value) {
    YAML::Emitter out;
    out << value;
    return std::string(out.c_str());
  };
  std::string text;
  for (const Field& field : fields_) {
    if (!field.is_prefix) {
      const std::string value = field.render(options);
      const bool is_list = field.type == "list of strings";
      absl::StrAppend(&text, field.key, ": ", is_list ? value : quoted(value), "  # ",
                      where(field.key), "\n");
      continue;
    }
    for (const auto& [property, value] : field.prefixed(options)) {
      const std::string key = field.key + property;
      const bool secret = IsSecretKey(property);
      const bool from_env = absl::StartsWith(value, "${");
      absl::StrAppend(&text, key, ": ", secret && !from_env ? "'******'" : quoted(value), "  # ",
                      where(key), "\n");
    }
  }
  return text;
}

std::string SchemaBase::MarkdownTableImpl(const void* defaults) const {
  std::string table = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const Field& field : fields_) {
    const std::string key = field.is_prefix ? field.key + "<property>" : field.key;
    std::string value = field.render(defaults);
    value = value.empty() ? "(none)" : absl::StrCat("`", value, "`");
    absl::StrAppend(&table, "| `", key, "` | ", field.type, " | ", value, " | ", field.doc, " |\n");
  }
  return table;
}

}  // namespace weir::config
