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
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ParsePayment(json, first)->card_token, first.Token("4111111111111111"));
    EXPECT_EQ(ParsePayment(json, second)->card_token, second.Token("4111111111111111"));
  }
  EXPECT_NE(first.Token("4111111111111111"), second.Token("4111111111111111"));
}

}  // namespace
}  // namespace weir::fraud
