package dev.weir.peer;

/**
 * The fraud topology's settings, the keys of weir's config/fraud.yaml (docs/fraud.md "Keys") with
 * the same defaults.
 */
record FraudConfig(
    String paymentsTopic,
    String alertsTopic,
    String dlqTopic,
    long card1mSizeMs,
    long card5mSizeMs,
    long card5mAdvanceMs,
    long graceMs,
    long velocityCount,
    long highSpendCents,
    long geoHopCountries) {

  static FraudConfig defaults() {
    return new FraudConfig("payments", "fraud-alerts", "payments-dlq", 60_000, 300_000, 60_000,
        30_000, 5, 500_000, 2);
  }

  FraudConfig withTopics(String payments, String alerts, String dlq) {
    return new FraudConfig(payments, alerts, dlq, card1mSizeMs, card5mSizeMs, card5mAdvanceMs,
        graceMs, velocityCount, highSpendCents, geoHopCountries);
  }
}
