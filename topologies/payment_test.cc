#include "topologies/payment.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace weir::fraud {
namespace {

TEST(SipHash24, GivesThePapersTestVector) {
  // SipHash paper, appendix A: key 00 01 .. 0f, message 00 01 .. 0e.
  std::string message;
  for (int i = 0; i < 15; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, message),
            0xa129ca6149be45e5ULL);
}

TEST(CardTokenizer, GivesTheFirstHalfOfHmacSha256) {
  // RFC 4231, test cases 2 (a short key) and 6 (a key longer than SHA-256's block).
  EXPECT_EQ(CardTokenizer("Jefe").Token("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c7");
  EXPECT_EQ(CardTokenizer(std::string(131, '\xaa'))
                .Token("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f");
}

TEST(CardTokenCache, GivesTheTokenizersTokensAndComputesEachHotCardOnce) {
  const CardTokenizer tokenizer("cache-key");
  CardTokenCache cache(tokenizer, 1024);
  for (int round = 0; round < 3; ++round) {
    for (int card = 0; card < 100; ++card) {
      const std::string number = absl::StrCat("41111111", 10'000'000 + card);
      EXPECT_EQ(cache.Token(number), tokenizer.Token(number)) << number;
    }
  }
  // 100 cards in 1,024 slots: a miss per card, then hits but for the few cards that share a slot
  // (the keys are random: about five pairs share one, each missing twice more per round).
  EXPECT_GE(cache.misses(), 100);
  EXPECT_LE(cache.misses(), 150);
  EXPECT_EQ(cache.hits() + cache.misses(), 300);
}

TEST(CardTokenCache, ACardInAnotherCardsSlotGetsItsOwnToken) {
  const CardTokenizer tokenizer("cache-key");
  CardTokenCache cache(tokenizer, 1);  // every card shares the one slot
  const std::string a = "4111111111111111", b = "5500000000000004";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cache.Token(a), tokenizer.Token(a));
    EXPECT_EQ(cache.Token(b), tokenizer.Token(b));
  }
  EXPECT_EQ(cache.hits(), 0);
}

TEST(ParsePayment, TokensFollowTheTokenizersKeyWhateverTheThreadCachedBefore) {
  const std::string json =
      R"({"txn_id":"t1","card":"4111111111111111","amount":10.00,"merchant":"m","country":"DE","ts":1})";
  const CardTokenizer first("k1"), second("k2");
  Payment payment;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(ParsePayment(json, first, payment).ok());
    EXPECT_EQ(payment.card_token(), first.Token("4111111111111111"));
    ASSERT_TRUE(ParsePayment(json, second, payment).ok());
    EXPECT_EQ(payment.card_token(), second.Token("4111111111111111"));
  }
  EXPECT_NE(first.Token("4111111111111111"), second.Token("4111111111111111"));
}

TEST(ParsePayment, ParsingIntoOnePaymentAgainGivesEachPaymentsOwnFields) {
  const CardTokenizer tokenizer("k");
  Payment payment;
  ASSERT_TRUE(ParsePayment(R"({"txn_id":"a-long-transaction-id","card":"4111111111111111",)"
                           R"("amount":1.5,"currency":"EUR","merchant":"m-1",)"
                           R"("country":"DE","ts":7})",
                           tokenizer, payment)
                  .ok());
  EXPECT_EQ(payment.txn_id(), "a-long-transaction-id");
  EXPECT_EQ(payment.currency(), "EUR");
  // Fields in another order, one escaped, currency absent, a longer card.
  ASSERT_TRUE(ParsePayment(R"({"country":"FR","ts":9,"merchant":"caf\u00e9 \"x\"",)"
                           R"("card":"5500000000000000004","txn_id":"b","amount":20})",
                           tokenizer, payment)
                  .ok());
  EXPECT_EQ(payment.txn_id(), "b");
  EXPECT_EQ(payment.merchant(), "caf\xc3\xa9 \"x\"");
  EXPECT_EQ(payment.country(), "FR");
  EXPECT_EQ(payment.currency(), "");
  EXPECT_EQ(payment.masked_card(), "550000*********0004");
  EXPECT_EQ(payment.card_token(), tokenizer.Token("5500000000000000004"));
  EXPECT_EQ(payment.amount_cents(), 2000);
  EXPECT_EQ(payment.ts(), 9);
  // A payment that does not parse leaves none of the last one's fields behind.
  const absl::Status status =
      ParsePayment(R"({"txn_id":"c","card":"4111111111111111","amount":1})", tokenizer, payment);
  EXPECT_EQ(status.message(), "missing field 'merchant'");
  EXPECT_EQ(payment.txn_id(), "");
  EXPECT_EQ(payment.card_token(), "");
}

}  // namespace
}  // namespace weir::fraud
