// Payments as the fraud topology reads them (docs/fraud.md), card tokens and card masking.
//
// PCI: a Payment never holds the card number itself, only its token (a keyed hash) and its
// masked form (first 6 and last 4 digits). Everything downstream - stores, changelogs, alerts,
// logs, the dead-letter topic - sees only those.
#ifndef WEIR_TOPOLOGIES_PAYMENT_H_
#define WEIR_TOPOLOGIES_PAYMENT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/processor/record.h"

namespace weir::fraud {

class CardTokenizer;

// One valid payment. Its text fields live in one buffer the Payment owns, which ParsePayment
// reuses when it parses into the same Payment again: a stream of payments parsed into one
// Payment allocates nothing once the buffer has grown to the largest of them.
class Payment {
 public:
  absl::string_view txn_id() const { return Field(kTxnId); }
  // CardTokenizer::Token of the card number (32 hex characters).
  absl::string_view card_token() const { return Field(kCardToken); }
  absl::string_view masked_card() const { return Field(kMaskedCard); }  // first 6, last 4
  absl::string_view currency() const { return Field(kCurrency); }  // optional; "" when absent
  absl::string_view merchant() const { return Field(kMerchant); }
  absl::string_view country() const { return Field(kCountry); }
  int64_t amount_cents() const { return amount_cents_; }
  int64_t ts() const { return ts_; }  // event time, epoch ms
  // Fingerprint() of the card number: in memory only.
  uint64_t card_fingerprint() const { return card_fingerprint_; }

 private:
  friend class PaymentParser;  // payment.cc
  friend absl::Status ParsePayment(absl::string_view json, const CardTokenizer& tokenizer,
                                   Payment& out);
  enum FieldIndex { kTxnId, kCardToken, kMaskedCard, kCurrency, kMerchant, kCountry, kFields };
  struct Span {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  absl::string_view Field(FieldIndex field) const {
    return absl::string_view(bytes_).substr(spans_[field].offset, spans_[field].size);
  }
  // Appends `text` to the buffer as `field`.
  void Set(FieldIndex field, absl::string_view text);

  std::string bytes_;
  std::array<Span, kFields> spans_{};
  int64_t amount_cents_ = 0;
  int64_t ts_ = 0;
  uint64_t card_fingerprint_ = 0;
};

// A 64-bit fingerprint of a card number or of a record's key, for memory only (never stored,
// logged or sent): it lets the topology check that a payment is keyed by its own card without
// keeping either in clear. Equal text gives equal fingerprints within one process.
uint64_t Fingerprint(absl::string_view text);

// Keyed hash of card numbers. The key comes from the environment variable named in the fraud
// config; when it is unset a fixed development key is used and a warning is logged once.
class CardTokenizer {
 public:
  static CardTokenizer FromEnvironment(const std::string& variable);
  explicit CardTokenizer(std::string key);
  // 32 hex characters: the first 16 bytes of HMAC-SHA256(key, card).
  std::string Token(absl::string_view card) const;
  bool uses_development_key() const { return development_; }
  // 16 hex characters that name the key without revealing it (the first 8 bytes of its
  // HMAC-SHA256 of a fixed text that is no card number): for the audit log, to show which key
  // an instance ran with and when it changed.
  std::string KeyFingerprint() const {
    return Token("weir card token key fingerprint").substr(0, 16);
  }
  // Equal for copies of one tokenizer (one key).
  const void* id() const { return keyed_.get(); }

 private:
  // HMAC-SHA256 (RFC 2104) keyed once: SHA-256 having absorbed the key's inner and outer pad
  // blocks. Each token copies them and hashes the card, then the inner digest - two SHA-256
  // blocks and no setup (EVP_MAC's per-call context copy cost 10,500 instructions a token, three
  // times this; OpenSSL 3's one-shot HMAC() also re-fetches the algorithm on every call).
  struct Keyed;
  std::shared_ptr<const Keyed> keyed_;
  bool development_ = false;
};

// The tokens of the cards seen lately, so that HMAC-SHA256 runs once per distinct card while it
// is hot (it was a fifth of the fraud topology's instructions per payment). A direct-mapped
// table of `slots` entries: each holds a token under a 128-bit keyed hash of its card number
// (two SipHash-2-4 values under keys drawn from OpenSSL's RAND_bytes when the cache is made,
// kept nowhere else); a card whose slot another card holds replaces it. No card number is kept,
// and without the keys an entry cannot be tied to one (docs/fraud.md, "Card token").
// Not thread-safe: ParsePayment keeps one per thread.
class CardTokenCache {
 public:
  explicit CardTokenCache(CardTokenizer tokenizer, size_t slots = size_t{1} << 16);
  // tokenizer.Token(card); the view is valid until the next call.
  absl::string_view Token(absl::string_view card);
  // True when this cache holds `tokenizer`'s tokens (the same key).
  bool Serves(const CardTokenizer& tokenizer) const { return tokenizer.id() == tokenizer_.id(); }
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  struct Slot {
    uint64_t hash[2] = {0, 0};
    bool used = false;
    char token[32] = {};
  };
  CardTokenizer tokenizer_;
  uint64_t keys_[4] = {};
  std::vector<Slot> slots_;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

// SipHash-2-4 (Aumasson and Bernstein) of `data` under the 128-bit key (k0, k1): the token
// cache's keyed hash, here for its test vector.
uint64_t SipHash24(uint64_t k0, uint64_t k1, absl::string_view data);

// A card number as payments must carry it: 12-19 digits (no Luhn check).
bool IsCardNumber(absl::string_view text);

// "4111111111111111" -> "411111******1111".
std::string MaskCard(absl::string_view card);
// Appends MaskCard(card) to `out`.
void AppendMaskedCard(absl::string_view card, std::string& out);

// Replaces every run of 12-19 digits (a possible card number, whether or not it passes Luhn)
// with its masked form, except the value of a JSON "ts" key. For text that may hold card
// numbers: input keys, dead letters, log lines. Other long numbers are masked too: over-masking
// beats leaking.
std::string MaskCardNumbers(absl::string_view text);
// MaskCardNumbers over a record's key, value and header values: a dead letter's, since a
// producer may have put a card number in any of them.
void MaskCardNumbersIn(RawRecord& record);

// The longest txn_id, merchant, country or currency a payment may have.
inline constexpr size_t kMaxFieldBytes = 256;

// Parses and validates one payment into `out`, reusing its buffer. InvalidArgument names the
// problem: not a JSON object (or one cut short: "truncated JSON ..."), a missing or mistyped
// field, a card that is not 12-19 digits, an amount that is not a positive decimal with at most
// 2 places, a ts that is not a non-negative integer, a string field longer than kMaxFieldBytes.
// The message never contains the card number. On error `out` holds no valid payment.
absl::Status ParsePayment(absl::string_view json, const CardTokenizer& tokenizer, Payment& out);

// The "card" field of a payment's JSON, if there is one (the key a producer would have used).
std::optional<std::string> ExtractCard(absl::string_view json);

// Cents as a decimal: 500000 -> "5000.00".
std::string FormatCents(int64_t cents);
// Appends FormatCents(cents) to `out` (no allocation once `out` has room).
void AppendCents(int64_t cents, std::string& out);

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_PAYMENT_H_
