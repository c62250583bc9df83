#include "topologies/payment.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <cstdlib>
#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/logging.h"
#include "topologies/fraud_config.h"

namespace weir::fraud {
namespace {

constexpr char kDevelopmentKey[] = "weir-development-card-token-key";

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// True when the digits starting at `start` are the value of a JSON key "ts" (the event time,
// which is 13 digits and must stay readable in dead letters).
bool IsTimestampValue(absl::string_view text, size_t start) {
  size_t i = start;
  while (i > 0 && absl::ascii_isspace(static_cast<unsigned char>(text[i - 1]))) --i;
  if (i == 0 || text[i - 1] != ':') return false;
  --i;
  while (i > 0 && absl::ascii_isspace(static_cast<unsigned char>(text[i - 1]))) --i;
  return i >= 4 && text.substr(i - 4, 4) == "\"ts\"";
}

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

}  // namespace

CardTokenizer CardTokenizer::FromEnvironment(const std::string& variable) {
  const char* key = std::getenv(variable.c_str());
  if (key != nullptr && *key != '\0') return CardTokenizer(key);
  static bool warned = false;
  if (!warned) {
    warned = true;
    spdlog::warn(
        "{} is not set: card tokens use a fixed development key. Set it to a secret in every "
        "real deployment (tokens change with the key).",
        variable);
  }
  CardTokenizer tokenizer(kDevelopmentKey);
  tokenizer.development_ = true;
  return tokenizer;
}

CardTokenizer::CardTokenizer(std::string key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  WEIR_CHECK(mac != nullptr) << "OpenSSL has no HMAC";
  EVP_MAC_CTX* context = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  WEIR_CHECK(EVP_MAC_init(context, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                          params) == 1)
      << "cannot key HMAC-SHA256";
  keyed_.reset(context,
               [](const ::evp_mac_ctx_st* c) { EVP_MAC_CTX_free(const_cast<EVP_MAC_CTX*>(c)); });
}

std::string CardTokenizer::Token(absl::string_view card) const {
  EVP_MAC_CTX* context = EVP_MAC_CTX_dup(keyed_.get());
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t length = 0;
  const bool ok = context != nullptr &&
                  EVP_MAC_update(context, reinterpret_cast<const unsigned char*>(card.data()),
                                 card.size()) == 1 &&
                  EVP_MAC_final(context, digest, &length, sizeof(digest)) == 1;
  EVP_MAC_CTX_free(context);
  WEIR_CHECK(ok && length >= 16) << "HMAC-SHA256 failed";
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16));
}

namespace {

inline uint64_t RotateLeft(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

inline void SipRound(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1;
  v1 = RotateLeft(v1, 13);
  v1 ^= v0;
  v0 = RotateLeft(v0, 32);
  v2 += v3;
  v3 = RotateLeft(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = RotateLeft(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = RotateLeft(v1, 17);
  v1 ^= v2;
  v2 = RotateLeft(v2, 32);
}

}  // namespace

uint64_t SipHash24(uint64_t k0, uint64_t k1, absl::string_view data) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  const size_t whole = data.size() / 8 * 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | static_cast<unsigned char>(data[i + b]);
    v3 ^= m;
    SipRound(v0, v1, v2, v3);
    SipRound(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(data.size() & 0xff) << 56;
  for (size_t i = whole; i < data.size(); ++i) {
    last |= static_cast<uint64_t>(static_cast<unsigned char>(data[i])) << (8 * (i - whole));
  }
  v3 ^= last;
  SipRound(v0, v1, v2, v3);
  SipRound(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) SipRound(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

CardTokenCache::CardTokenCache(CardTokenizer tokenizer, size_t slots)
    : tokenizer_(std::move(tokenizer)), slots_(std::max<size_t>(slots, 1)) {
  WEIR_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(keys_), sizeof(keys_)) == 1)
      << "OpenSSL could not draw the token cache's keys";
}

absl::string_view CardTokenCache::Token(absl::string_view card) {
  const uint64_t first = SipHash24(keys_[0], keys_[1], card);
  const uint64_t second = SipHash24(keys_[2], keys_[3], card);
  Slot& slot = slots_[first % slots_.size()];
  if (slot.used && slot.hash[0] == first && slot.hash[1] == second) {
    ++hits_;
  } else {
    ++misses_;
    const std::string token = tokenizer_.Token(card);
    WEIR_CHECK(token.size() == sizeof(slot.token)) << "a card token is 32 hex characters";
    std::memcpy(slot.token, token.data(), sizeof(slot.token));
    slot.hash[0] = first;
    slot.hash[1] = second;
    slot.used = true;
  }
  return absl::string_view(slot.token, sizeof(slot.token));
}

std::string MaskCard(absl::string_view card) {
  if (card.size() < 10) return std::string(card.size(), '*');
  return absl::StrCat(card.substr(0, 6), std::string(card.size() - 10, '*'),
                      card.substr(card.size() - 4));
}

std::string MaskCardNumbers(absl::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[end]))) ++end;
    const absl::string_view run = text.substr(i, end - i);
    const bool card_like = run.size() >= 12 && run.size() <= 19 && !IsTimestampValue(text, i);
    absl::StrAppend(&out, card_like ? MaskCard(run) : run);
    i = end;
  }
  return out;
}

std::string FormatCents(int64_t cents) {
  return absl::StrFormat("%d.%02d", cents / 100, cents % 100);
}

std::optional<std::string> ExtractCard(absl::string_view json) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string buffer;
  buffer.assign(json.data(), json.size());
  buffer.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document document;
  std::string_view card;
  if (parser.iterate(buffer.data(), json.size(), buffer.size()).get(document) !=
          simdjson::SUCCESS ||
      document.find_field_unordered("card").get_string().get(card) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return std::string(card);
}

uint64_t Fingerprint(absl::string_view text) { return absl::Hash<absl::string_view>{}(text); }

namespace {

// When `json` starts an object that the text ends inside of (a record cut short by a producer
// or a size limit), says so and where; nullopt otherwise.
std::optional<std::string> Truncation(absl::string_view json) {
  const size_t first = json.find_first_not_of(" \t\r\n");
  if (first == absl::string_view::npos || json[first] != '{') return std::nullopt;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = first; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return std::nullopt;  // the object closes: whatever is wrong, it is not truncation
    }
  }
  return absl::StrCat("truncated JSON: the text ends at byte ", json.size(),
                      in_string ? " inside a string" : " inside an object");
}

absl::StatusOr<Payment> ParseFields(absl::string_view json, const CardTokenizer& tokenizer) {
  // simdjson needs padding after the text; a thread-local parser and buffer avoid allocations.
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string buffer;
  buffer.assign(json.data(), json.size());
  buffer.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document document;
  if (parser.iterate(buffer.data(), json.size(), buffer.size()).get(document) !=
      simdjson::SUCCESS) {
    return Invalid("not JSON");
  }
  simdjson::ondemand::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return Invalid("not a JSON object");
  }
  Payment payment;
  std::string card;
  bool have_txn = false, have_card = false, have_amount = false, have_merchant = false,
       have_country = false, have_ts = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Invalid("not JSON");
    simdjson::ondemand::value value = field.value();
    const auto string_field = [&](std::string& out, bool& seen) -> absl::Status {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return Invalid(absl::StrCat("field '", std::string(key), "' must be a string"));
      }
      out.assign(text);
      seen = true;
      return absl::OkStatus();
    };
    absl::Status status;
    bool ignored = false;
    if (key == "txn_id") {
      status = string_field(payment.txn_id, have_txn);
    } else if (key == "card") {
      status = string_field(card, have_card);
    } else if (key == "merchant") {
      status = string_field(payment.merchant, have_merchant);
    } else if (key == "country") {
      status = string_field(payment.country, have_country);
    } else if (key == "currency") {
      status = string_field(payment.currency, ignored);
    } else if (key == "amount") {
      std::string_view raw;
      simdjson::ondemand::json_type type;
      if (value.type().get(type) != simdjson::SUCCESS ||
          type != simdjson::ondemand::json_type::number) {
        return Invalid("field 'amount' must be a number");
      }
      raw = value.raw_json_token();
      std::optional<int64_t> cents =
          ParseAmountCents(absl::StripAsciiWhitespace(absl::string_view(raw.data(), raw.size())));
      if (!cents.has_value()) {
        return Invalid("field 'amount' must be positive with at most 2 decimal places");
      }
      payment.amount_cents = *cents;
      have_amount = true;
    } else if (key == "ts") {
      int64_t ts = 0;
      if (value.get_int64().get(ts) != simdjson::SUCCESS || ts < 0) {
        return Invalid("field 'ts' must be a non-negative integer (epoch ms)");
      }
      payment.ts = ts;
      have_ts = true;
    }
    if (!status.ok()) return status;
  }
  for (const auto& [seen, name] : {std::pair{have_txn, "txn_id"},
                                   {have_card, "card"},
                                   {have_amount, "amount"},
                                   {have_merchant, "merchant"},
                                   {have_country, "country"},
                                   {have_ts, "ts"}}) {
    if (!seen) return Invalid(absl::StrCat("missing field '", name, "'"));
  }
  if (card.size() < 12 || card.size() > 19 || !AllDigits(card)) {
    return Invalid("field 'card' must be 12-19 digits");
  }
  // Bounded, so that no valid payment makes an alert or a stored aggregate too large to send.
  for (const auto& [field, name] : {std::pair{&payment.txn_id, "txn_id"},
                                    {&payment.merchant, "merchant"},
                                    {&payment.country, "country"},
                                    {&payment.currency, "currency"}}) {
    if (field->size() > kMaxFieldBytes) {
      return Invalid(absl::StrCat("field '", name, "' is longer than ", kMaxFieldBytes, " bytes"));
    }
  }
  // One cache per thread, for the tokenizer it last served (a new key starts a new cache).
  thread_local std::unique_ptr<CardTokenCache> tokens;
  if (tokens == nullptr || !tokens->Serves(tokenizer)) {
    tokens = std::make_unique<CardTokenCache>(tokenizer);
  }
  const absl::string_view token = tokens->Token(card);
  payment.card_token.assign(token.data(), token.size());
  payment.card_fingerprint = Fingerprint(card);
  payment.masked_card = MaskCard(card);
  return payment;
}

}  // namespace

absl::StatusOr<Payment> ParsePayment(absl::string_view json, const CardTokenizer& tokenizer) {
  absl::StatusOr<Payment> payment = ParseFields(json, tokenizer);
  if (!payment.ok()) {
    if (std::optional<std::string> truncated = Truncation(json)) return Invalid(*truncated);
  }
  return payment;
}

}  // namespace weir::fraud
