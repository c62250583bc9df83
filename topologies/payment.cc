#include "topologies/payment.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <cstdlib>
#include <cstring>

#include "absl/base/attributes.h"
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

struct CardTokenizer::Keyed {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();  // SHA-256 after (key XOR ipad)
  EVP_MD_CTX* outer = EVP_MD_CTX_new();  // SHA-256 after (key XOR opad)
  ~Keyed() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
  }
};

CardTokenizer::CardTokenizer(std::string key) {
  constexpr size_t kBlock = 64;  // SHA-256's block
  unsigned char block[kBlock] = {};
  if (key.size() > kBlock) {
    unsigned int size = 0;
    WEIR_CHECK(EVP_Digest(key.data(), key.size(), block, &size, EVP_sha256(), nullptr) == 1)
        << "cannot hash the card token key";
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  auto keyed = std::make_shared<Keyed>();
  unsigned char pad[kBlock];
  for (const auto& [context, byte] : {std::pair{keyed->inner, 0x36}, {keyed->outer, 0x5c}}) {
    for (size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(block[i] ^ byte);
    WEIR_CHECK(context != nullptr && EVP_DigestInit_ex(context, EVP_sha256(), nullptr) == 1 &&
               EVP_DigestUpdate(context, pad, kBlock) == 1)
        << "cannot key HMAC-SHA256";
  }
  OPENSSL_cleanse(block, kBlock);
  OPENSSL_cleanse(pad, kBlock);
  OPENSSL_cleanse(key.data(), key.size());
  keyed_ = std::move(keyed);
}

std::string CardTokenizer::Token(absl::string_view card) const {
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> work(EVP_MD_CTX_new(),
                                                                            EVP_MD_CTX_free);
  unsigned char inner[EVP_MAX_MD_SIZE], digest[EVP_MAX_MD_SIZE];
  unsigned int inner_size = 0, size = 0;
  const bool ok = work != nullptr && EVP_MD_CTX_copy_ex(work.get(), keyed_->inner) == 1 &&
                  EVP_DigestUpdate(work.get(), card.data(), card.size()) == 1 &&
                  EVP_DigestFinal_ex(work.get(), inner, &inner_size) == 1 &&
                  EVP_MD_CTX_copy_ex(work.get(), keyed_->outer) == 1 &&
                  EVP_DigestUpdate(work.get(), inner, inner_size) == 1 &&
                  EVP_DigestFinal_ex(work.get(), digest, &size) == 1;
  WEIR_CHECK(ok && size >= 16) << "HMAC-SHA256 failed";
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

void AppendMaskedCard(absl::string_view card, std::string& out) {
  if (card.size() < 10) {
    out.append(card.size(), '*');
    return;
  }
  out.append(card.data(), 6);
  out.append(card.size() - 10, '*');
  out.append(card.data() + card.size() - 4, 4);
}

bool IsCardNumber(absl::string_view text) {
  return text.size() >= 12 && text.size() <= 19 && AllDigits(text);
}

std::string MaskCard(absl::string_view card) {
  std::string masked;
  AppendMaskedCard(card, masked);
  return masked;
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
    if (run.size() >= 12 && run.size() <= 19 && !IsTimestampValue(text, i)) {
      AppendMaskedCard(run, out);
    } else {
      out.append(run.data(), run.size());
    }
    i = end;
  }
  return out;
}

void MaskCardNumbersIn(RawRecord& record) {
  if (record.key.has_value()) record.key = MaskCardNumbers(*record.key);
  if (record.value.has_value()) record.value = MaskCardNumbers(*record.value);
  for (Header& header : record.headers) {
    if (header.value.has_value()) header.value = MaskCardNumbers(*header.value);
  }
}

void AppendCents(int64_t cents, std::string& out) {
  absl::StrAppend(&out, cents / 100, ".", absl::Dec(cents % 100, absl::kZeroPad2));
}

std::string FormatCents(int64_t cents) {
  std::string out;
  AppendCents(cents, out);
  return out;
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

}  // namespace

// Payment's friend: writes its fields.
class PaymentParser {
 public:
  static absl::Status Parse(absl::string_view json, const CardTokenizer& tokenizer, Payment& out,
                            absl::string_view& card);

 private:
  // Which required fields a payment had (currency is optional).
  struct Seen {
    bool txn = false, card = false, amount = false, merchant = false, country = false, ts = false,
         currency = false;
  };
  ABSL_ATTRIBUTE_ALWAYS_INLINE static absl::Status ReadAmount(simdjson::ondemand::value& value,
                                                              Payment& out) {
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS ||
        type != simdjson::ondemand::json_type::number) {
      return Invalid("field 'amount' must be a number");
    }
    const std::string_view raw = value.raw_json_token();
    std::optional<int64_t> cents =
        ParseAmountCents(absl::StripAsciiWhitespace(absl::string_view(raw.data(), raw.size())));
    if (!cents.has_value()) {
      return Invalid("field 'amount' must be positive with at most 2 decimal places");
    }
    out.amount_cents_ = *cents;
    return absl::OkStatus();
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE static absl::Status ReadTs(simdjson::ondemand::value& value,
                                                          Payment& out) {
    int64_t ts = 0;
    if (value.get_int64().get(ts) != simdjson::SUCCESS || ts < 0) {
      return Invalid("field 'ts' must be a non-negative integer (epoch ms)");
    }
    out.ts_ = ts;
    return absl::OkStatus();
  }
  // Every required field present, the card 12-19 digits, no text field too long.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static absl::Status CheckFields(const Payment& out,
                                                               absl::string_view card,
                                                               const Seen& seen) {
    for (const auto& [present, name] : {std::pair{seen.txn, "txn_id"},
                                        {seen.card, "card"},
                                        {seen.amount, "amount"},
                                        {seen.merchant, "merchant"},
                                        {seen.country, "country"},
                                        {seen.ts, "ts"}}) {
      if (!present) return Invalid(absl::StrCat("missing field '", name, "'"));
    }
    if (!IsCardNumber(card)) {
      return Invalid("field 'card' must be 12-19 digits");
    }
    // Bounded, so that no valid payment makes an alert or a stored aggregate too large to send.
    for (const auto& [field, name] : {std::pair{Payment::kTxnId, "txn_id"},
                                      {Payment::kMerchant, "merchant"},
                                      {Payment::kCountry, "country"},
                                      {Payment::kCurrency, "currency"}}) {
      if (out.spans_[field].size > kMaxFieldBytes) {
        return Invalid(
            absl::StrCat("field '", name, "' is longer than ", kMaxFieldBytes, " bytes"));
      }
    }
    return absl::OkStatus();
  }
  // The card's token, fingerprint and masked form: the only forms of it a payment keeps.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static void AddCardForms(const CardTokenizer& tokenizer,
                                                        absl::string_view card, Payment& out) {
    // One cache per thread, for the tokenizer it last served (a new key starts a new cache).
    thread_local std::unique_ptr<CardTokenCache> tokens;
    if (tokens == nullptr || !tokens->Serves(tokenizer)) {
      tokens = std::make_unique<CardTokenCache>(tokenizer);
    }
    out.Set(Payment::kCardToken, tokens->Token(card));
    out.card_fingerprint_ = Fingerprint(card);
    const size_t masked_at = out.bytes_.size();
    AppendMaskedCard(card, out.bytes_);
    out.spans_[Payment::kMaskedCard] = {static_cast<uint32_t>(masked_at),
                                        static_cast<uint32_t>(out.bytes_.size() - masked_at)};
  }
};

absl::Status PaymentParser::Parse(absl::string_view json, const CardTokenizer& tokenizer,
                                  Payment& out, absl::string_view& card) {
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
  Seen seen;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Invalid("not JSON");
    simdjson::ondemand::value value = field.value();
    // The parser's unescaped copy: valid until its next document.
    const auto string_field = [&](absl::string_view& text, bool& present) -> absl::Status {
      std::string_view unescaped;
      if (value.get_string().get(unescaped) != simdjson::SUCCESS) {
        return Invalid(absl::StrCat("field '", std::string(key), "' must be a string"));
      }
      text = absl::string_view(unescaped.data(), unescaped.size());
      present = true;
      return absl::OkStatus();
    };
    absl::Status status;
    absl::string_view text;
    if (key == "txn_id") {
      status = string_field(text, seen.txn);
      if (status.ok()) out.Set(Payment::kTxnId, text);
    } else if (key == "card") {
      status = string_field(card, seen.card);
    } else if (key == "merchant") {
      status = string_field(text, seen.merchant);
      if (status.ok()) out.Set(Payment::kMerchant, text);
    } else if (key == "country") {
      status = string_field(text, seen.country);
      if (status.ok()) out.Set(Payment::kCountry, text);
    } else if (key == "currency") {
      status = string_field(text, seen.currency);
      if (status.ok()) out.Set(Payment::kCurrency, text);
    } else if (key == "amount") {
      status = ReadAmount(value, out);
      seen.amount = true;
    } else if (key == "ts") {
      status = ReadTs(value, out);
      seen.ts = true;
    }
    if (!status.ok()) return status;
  }
  if (absl::Status checked = CheckFields(out, card, seen); !checked.ok()) return checked;
  AddCardForms(tokenizer, card, out);
  return absl::OkStatus();
}

void Payment::Set(FieldIndex field, absl::string_view text) {
  spans_[field] = {static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(text.size())};
  bytes_.append(text.data(), text.size());
}

absl::Status ParsePayment(absl::string_view json, const CardTokenizer& tokenizer, Payment& out) {
  out.bytes_.clear();  // keeps its space
  out.spans_ = {};
  absl::string_view card;  // the parser's copy, never kept
  absl::Status status = PaymentParser::Parse(json, tokenizer, out, card);
  if (!status.ok()) {
    out.bytes_.clear();
    out.spans_ = {};
    if (std::optional<std::string> truncated = Truncation(json)) return Invalid(*truncated);
  }
  return status;
}

}  // namespace weir::fraud
