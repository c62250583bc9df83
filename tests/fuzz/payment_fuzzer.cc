// Fuzzes what reads a payment record: the parser and validator, the card masker that makes its
// dead letter, and the cut that fits a dead letter into message.max.bytes.
// Properties: nothing crashes or leaks (ASan, UBSan); a parsed payment honours the validation
// rules; masked text never holds a run of 12-19 digits outside a "ts" value that the input did
// not; a cut dead letter fits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "engine/kafka/dead_letter.h"
#include "tests/fuzz/require.h"
#include "topologies/payment.h"

using weir::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const weir::fraud::CardTokenizer tokenizer("fuzz-key");
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  weir::fraud::Payment payment;
  const absl::Status status = weir::fraud::ParsePayment(text, tokenizer, payment);
  if (status.ok()) {
    Require(payment.amount_cents() > 0, "a valid payment has a positive amount");
    Require(payment.ts() >= 0, "a valid payment has a non-negative ts");
    Require(payment.card_token().size() == 32, "a card token is 32 hex characters");
    Require(payment.merchant().size() <= weir::fraud::kMaxFieldBytes, "merchant is bounded");
    Require(payment.txn_id().size() <= weir::fraud::kMaxFieldBytes, "txn_id is bounded");
  } else {
    Require(!status.message().empty(), "an invalid payment says why");
  }

  const std::string masked = weir::fraud::MaskCardNumbers(text);
  Require(weir::fraud::MaskCardNumbers(masked) == masked, "masking is idempotent");

  // A dead letter of this value, cut to a small message.max.bytes.
  weir::RawRecord dead{.key = std::string(text.substr(0, 20)), .value = masked, .timestamp = 0};
  dead.headers = weir::DeadLetterHeaders({}, "InvalidPayment", "fuzz", std::nullopt);
  const size_t limit = 512 + size % 1024;
  if (weir::TruncateToFit(dead, limit)) {
    Require(weir::WireSizeUpperBound(dead) <= limit, "a cut dead letter fits");
    Require(weir::HeaderValue(dead.headers, weir::kOriginalValueSizeHeader) ==
                std::to_string(masked.size()),
            "a cut dead letter records its value's size");
  }
  return 0;
}
