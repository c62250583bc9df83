#include "topologies/fraud_queries.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/dsl/windows.h"
#include "stores/key_value_store.h"
#include "topologies/fraud_aggregates.h"
#include "topologies/fraud_topology.h"

namespace weir::fraud {
namespace {

bool AllHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
}

// An optional integer field; InvalidArgument naming it when present and not an integer.
absl::Status ReadMillis(const nlohmann::json& body, const char* field, int64_t& out) {
  if (!body.contains(field)) return absl::OkStatus();
  if (!body[field].is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", field, "\" must be an integer (epoch milliseconds)"));
  }
  out = body[field].get<int64_t>();
  return absl::OkStatus();
}

// The card named by `body`, as a query of its token. The card number is checked, tokenized and
// masked, and never copied into a message.
absl::StatusOr<StateQuery> ParseCardQuery(const nlohmann::json& body,
                                          const CardTokenizer& tokenizer) {
  static const std::set<std::string> kFields = {"card", "token", "from", "to", "allow_stale"};
  for (const auto& [field, value] : body.items()) {
    if (!kFields.contains(field)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field \"", MaskCardNumbers(field),
          "\": a query takes \"card\" or \"token\", and \"from\", \"to\", \"allow_stale\""));
    }
  }
  if (body.contains("card") == body.contains("token")) {
    return absl::InvalidArgumentError("give exactly one of \"card\" and \"token\"");
  }
  StateQuery query;
  if (body.contains("card")) {
    const nlohmann::json& card = body["card"];
    if (!card.is_string() || !IsCardNumber(card.get_ref<const std::string&>())) {
      return absl::InvalidArgumentError("\"card\" must be a string of 12-19 digits");
    }
    const std::string& number = card.get_ref<const std::string&>();
    query.key = tokenizer.Token(number);
    query.partition_key = number;  // payments are keyed (and partitioned) by the card number
    query.subject = {{"card", MaskCard(number)}, {"token", query.key}};
  } else {
    const nlohmann::json& token = body["token"];
    if (!token.is_string() || token.get_ref<const std::string&>().size() != 32 ||
        !AllHex(token.get_ref<const std::string&>())) {
      return absl::InvalidArgumentError("\"token\" must be 32 hexadecimal characters");
    }
    query.key = absl::AsciiStrToLower(token.get_ref<const std::string&>());
    query.subject = {{"token", query.key}};
  }
  if (absl::Status s = ReadMillis(body, "from", query.from_ms); !s.ok()) return s;
  if (absl::Status s = ReadMillis(body, "to", query.to_ms); !s.ok()) return s;
  if (body.contains("allow_stale")) {
    if (!body["allow_stale"].is_boolean()) {
      return absl::InvalidArgumentError("\"allow_stale\" must be true or false");
    }
    query.allow_stale = body["allow_stale"].get<bool>();
  }
  return query;
}

double Amount(int64_t cents) { return static_cast<double>(cents) / 100.0; }

nlohmann::json Strings(const fraud::Strings& strings) {
  nlohmann::json out = nlohmann::json::array();
  for (absl::string_view s : strings) out.push_back(std::string(s));
  return out;
}

// The card's value in `store`; nullopt when it has none. Internal when it does not decode.
absl::StatusOr<std::optional<CardWindows>> ReadCard(StateStore& store, const std::string& token) {
  auto* kv = dynamic_cast<KeyValueBytesStore*>(&store);
  if (kv == nullptr) {
    return absl::InternalError(absl::StrCat("store ", store.name(), " is not a key-value store"));
  }
  const std::optional<absl::string_view> value = kv->Get(token);
  if (!value.has_value()) return std::nullopt;
  CardWindows card;
  if (!DecodeCardWindows(*value, card)) {
    return absl::InternalError(absl::StrCat("the value of a card in ", store.name(),
                                            " does not decode"));
  }
  // Its strings view `value`, valid until the store's next operation: the callers below copy
  // them into their answer before any.
  return card;
}

QueryableStore WindowView(std::string name, TimeWindows windows, bool with_sets,
                          const CardTokenizer& tokenizer) {
  return {.name = std::move(name),
          .kind = QueryableStore::Kind::kWindows,
          .store = kCardWindowsStore,
          .parse = [tokenizer](const nlohmann::json& body) {
            return ParseCardQuery(body, tokenizer);
          },
          .read = [windows, with_sets](StateStore& store,
                                       const StateQuery& query) -> absl::StatusOr<StoreReading> {
            absl::StatusOr<std::optional<CardWindows>> card = ReadCard(store, query.key);
            if (!card.ok()) return card.status();
            StoreReading reading{.found = card->has_value(),
                                 .value = {{"windows", nlohmann::json::array()}}};
            if (!card->has_value()) return reading;
            std::set<int64_t> starts;
            for (const Slice& slice : (*card)->slices) {
              for (int64_t start : windows.WindowStartsFor(slice.start)) {
                if (start >= query.from_ms && start <= query.to_ms) starts.insert(start);
              }
            }
            for (int64_t start : starts) {
              const WindowAggregate window = (*card)->Window(
                  start, start + windows.size_ms,
                  with_sets ? CardWindows::Merge::kAll : CardWindows::Merge::kCounts);
              if (window.count == 0) continue;
              nlohmann::json out = {{"start", start},
                                    {"end", start + windows.size_ms},
                                    {"count", window.count},
                                    {"sum", Amount(window.sum)},
                                    {"max", Amount(window.max)}};
              if (with_sets) {
                out["countries"] = Strings(window.countries);
                out["merchants"] = Strings(window.merchants);
              }
              reading.value["windows"].push_back(std::move(out));
            }
            return reading;
          }};
}

QueryableStore KeyView(const CardTokenizer& tokenizer) {
  return {.name = kCardWindowsStore,
          .kind = QueryableStore::Kind::kKey,
          .store = kCardWindowsStore,
          .parse = [tokenizer](const nlohmann::json& body) {
            return ParseCardQuery(body, tokenizer);
          },
          .read = [](StateStore& store, const StateQuery& query) -> absl::StatusOr<StoreReading> {
            absl::StatusOr<std::optional<CardWindows>> card = ReadCard(store, query.key);
            if (!card.ok()) return card.status();
            StoreReading reading{.found = card->has_value(),
                                 .value = {{"slices", nlohmann::json::array()},
                                           {"last_alerts", nlohmann::json::object()}}};
            if (!card->has_value()) return reading;
            for (const Slice& slice : (*card)->slices) {
              if (slice.start < query.from_ms || slice.start > query.to_ms) continue;
              reading.value["slices"].push_back({{"start", slice.start},
                                                 {"count", slice.count},
                                                 {"sum", Amount(slice.sum)},
                                                 {"max", Amount(slice.max)},
                                                 {"countries", Strings(slice.countries)},
                                                 {"merchants", Strings(slice.merchants)}});
            }
            for (int rule = 0; rule < kRuleCount; ++rule) {
              if (const std::optional<int64_t>& start = (*card)->last_alert[rule]) {
                reading.value["last_alerts"][RuleName(static_cast<Rule>(rule))] = *start;
              }
            }
            return reading;
          }};
}

}  // namespace

std::vector<QueryableStore> FraudQueryableStores(const FraudConfig& config,
                                                 const CardTokenizer& tokenizer) {
  return {
      WindowView("card-1m", TimeWindows::OfSizeAndGrace(config.card_1m_size_ms, config.grace_ms),
                 /*with_sets=*/false, tokenizer),
      WindowView("card-5m",
                 TimeWindows::OfSizeAndGrace(config.card_5m_size_ms, config.grace_ms)
                     .AdvanceBy(config.card_5m_advance_ms),
                 /*with_sets=*/true, tokenizer),
      KeyView(tokenizer)};
}

}  // namespace weir::fraud
