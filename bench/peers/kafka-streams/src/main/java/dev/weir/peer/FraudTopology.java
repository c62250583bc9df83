package dev.weir.peer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * weir's fraud topology (docs/fraud.md) in Kafka Streams' DSL:
 *
 * <pre>
 * payments ─ validate ─┬─ invalid ─────────────────────────────────────── payments-dlq
 *                      └─ valid ─┬─ windowedBy(1 min).aggregate  card-1m ─┐
 *                                ├─ windowedBy(5 min / 1 min).aggregate card-5m ─┤ merge ─ rules ─ fraud-alerts
 *                                └─ end of payment ──────────────────────────────┘  (fraud-cooldown)
 * </pre>
 *
 * The source reads the key (the card number) into a {@link CardKey}: its token, masked form and
 * fingerprint, so the card number goes no further and the aggregations group by the token
 * without a repartition topic (the key object never changes; only its serde for the stores
 * writes the token). The aggregations run with caching off, so that every update reaches the
 * rules: a record that crosses a threshold fires on that record (with caching on, the cache
 * would forward only a window's last update per commit). The rules processor sees a payment's
 * card-1m update, its card-5m updates (oldest window first), then the payment itself, in that
 * order (the DSL forwards to a stream's children in the order they were added), and alerts at
 * the end in weir's rule order: VELOCITY, HIGH_SPEND, GEO_HOP, each rule's windows oldest first,
 * through the cooldown.
 */
final class FraudTopology {
  static final String CARD_1M = "card-1m";
  static final String CARD_5M = "card-5m";
  static final String COOLDOWN = "fraud-cooldown";
  /** librdkafka's and the Java producer's default maximum record size. */
  static final int MAX_DEAD_LETTER_BYTES = 1_000_000 - 4096;

  private FraudTopology() {}

  /** The input key: the card number's token, masked form and fingerprint. */
  record CardKey(String token, String masked, long fingerprint, boolean empty) {}

  /** A validated payment, or the masked text of a dead letter. */
  record Validated(Payments.Payment payment, byte[] deadLetter) {}

  /** What the rules processor sees: window updates, then the payment that made them. */
  record RuleInput(int kind, long windowStart, Aggregates.Minute minute,
                   Aggregates.FiveMinute fiveMinute, Payments.Payment payment) {
    static final int MINUTE = 0, FIVE_MINUTE = 1, PAYMENT = 2;
  }

  static Topology build(FraudConfig config, Payments.Tokenizer tokenizer) {
    StreamsBuilder builder = new StreamsBuilder();
    Serde<CardKey> tokenSerde = tokenSerde();

    KStream<CardKey, Validated> validated = builder
        .stream(config.paymentsTopic(), Consumed.with(inputKeySerde(tokenizer), Serdes.ByteArray())
            .withName("payments"))
        .processValues(Validate::new, Named.as("validate"));
    Map<String, KStream<CardKey, Validated>> branches = validated
        .split(Named.as("validated-"))
        .branch((key, value) -> value.payment() != null, Branched.as("payment"))
        .defaultBranch(Branched.as("invalid"));

    branches.get("validated-invalid")
        .map((key, value) -> KeyValue.pair(key.empty() ? null : key.masked(), value.deadLetter()),
            Named.as("dead-letter"))
        .to(config.dlqTopic(), Produced.with(Serdes.String(), Serdes.ByteArray()));

    KStream<CardKey, Payments.Payment> payments =
        branches.get("validated-payment").mapValues(Validated::payment, Named.as("payment"));
    Grouped<CardKey, Payments.Payment> byCard = Grouped.with(tokenSerde, null);

    TimeWindows minute = TimeWindows.ofSizeAndGrace(
        Duration.ofMillis(config.card1mSizeMs()), Duration.ofMillis(config.graceMs()));
    KStream<CardKey, RuleInput> minuteUpdates = payments.groupByKey(byCard)
        .windowedBy(minute)
        .aggregate(Aggregates.Minute::new, (key, payment, aggregate) -> aggregate.add(payment, config),
            Materialized.<CardKey, Aggregates.Minute, WindowStore<Bytes, byte[]>>as(CARD_1M)
                .withKeySerde(tokenSerde)
                .withValueSerde(Aggregates.minuteSerde())
                .withCachingDisabled()
                .withRetention(Duration.ofMillis(config.card1mSizeMs() + config.graceMs())))
        .toStream()
        .map((window, aggregate) -> KeyValue.pair(window.key(),
            new RuleInput(RuleInput.MINUTE, window.window().start(), aggregate, null, null)));

    TimeWindows fiveMinutes = TimeWindows.ofSizeAndGrace(
            Duration.ofMillis(config.card5mSizeMs()), Duration.ofMillis(config.graceMs()))
        .advanceBy(Duration.ofMillis(config.card5mAdvanceMs()));
    KStream<CardKey, RuleInput> fiveMinuteUpdates = payments.groupByKey(byCard)
        .windowedBy(fiveMinutes)
        .aggregate(Aggregates.FiveMinute::new, (key, payment, aggregate) -> aggregate.add(payment, config),
            Materialized.<CardKey, Aggregates.FiveMinute, WindowStore<Bytes, byte[]>>as(CARD_5M)
                .withKeySerde(tokenSerde)
                .withValueSerde(Aggregates.fiveMinuteSerde())
                .withCachingDisabled()
                .withRetention(Duration.ofMillis(config.card5mSizeMs() + config.graceMs())))
        .toStream()
        .map((window, aggregate) -> KeyValue.pair(window.key(),
            new RuleInput(RuleInput.FIVE_MINUTE, window.window().start(), null, aggregate, null)));

    KStream<CardKey, RuleInput> ends = payments.mapValues(
        payment -> new RuleInput(RuleInput.PAYMENT, 0, null, null, payment), Named.as("end-of-payment"));

    builder.addStateStore(Stores.windowStoreBuilder(
        Stores.persistentWindowStore(COOLDOWN,
            Duration.ofMillis(2 * config.card5mSizeMs() + config.graceMs()),
            Duration.ofMillis(config.card5mSizeMs()), false),
        Serdes.String(), Serdes.ByteArray()));
    minuteUpdates.merge(fiveMinuteUpdates).merge(ends)
        .process(() -> new Rules(config), Named.as("rules"), COOLDOWN)
        .to(config.alertsTopic(), Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  /** Reads the card-number key; writing is never needed (the key is replaced downstream). */
  static Serde<CardKey> inputKeySerde(Payments.Tokenizer tokenizer) {
    Deserializer<CardKey> deserializer = (topic, bytes) -> {
      if (bytes == null || bytes.length == 0) return new CardKey("", "", 0, true);
      String text = new String(bytes, StandardCharsets.ISO_8859_1);
      return new CardKey(tokenizer.token(bytes), Payments.maskCardNumbers(text),
          Payments.fingerprint(text), false);
    };
    Serializer<CardKey> serializer = (topic, key) -> {
      throw new UnsupportedOperationException("input keys are never written");
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** The key as the stores and alerts see it: the card token. */
  static Serde<CardKey> tokenSerde() {
    Serializer<CardKey> serializer =
        (topic, key) -> key == null ? null : key.token().getBytes(StandardCharsets.US_ASCII);
    Deserializer<CardKey> deserializer = (topic, bytes) -> bytes == null ? null
        : new CardKey(new String(bytes, StandardCharsets.US_ASCII), "", 0, false);
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** Validation; invalid records and records not keyed by their card become dead letters. */
  static final class Validate implements FixedKeyProcessor<CardKey, byte[], Validated> {
    private FixedKeyProcessorContext<CardKey, Validated> context;

    @Override
    public void init(FixedKeyProcessorContext<CardKey, Validated> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<CardKey, byte[]> record) {
      Payments.Payment payment;
      byte[] value = record.value() == null ? new byte[0] : record.value();
      try {
        payment = Payments.parse(value);
      } catch (Payments.InvalidPayment invalid) {
        deadLetter(record, "InvalidPayment", invalid.getMessage());
        return;
      }
      CardKey key = record.key();
      if (key.empty()) {
        deadLetter(record, "InvalidKey", "record key is missing: payments must be keyed by their card");
      } else if (key.fingerprint() != payment.cardFingerprint()) {
        deadLetter(record, "InvalidKey", "key does not match card: payments must be keyed by their card");
      } else {
        context.forward(record.withValue(new Validated(payment, null)).withTimestamp(payment.ts()));
      }
    }

    private void deadLetter(FixedKeyRecord<CardKey, byte[]> record, String exception, String message) {
      Headers headers = new RecordHeaders();
      for (Header header : record.headers()) {
        headers.add(header.key(), header.value() == null ? null : masked(header.value()));
      }
      headers.add("__streams.errors.exception", utf8(exception));
      headers.add("__streams.errors.message", utf8(message));
      RecordMetadata where = context.recordMetadata().orElse(null);
      if (where != null) {
        headers.add("__streams.errors.topic", utf8(where.topic()));
        headers.add("__streams.errors.partition", utf8(Integer.toString(where.partition())));
        headers.add("__streams.errors.offset", utf8(Long.toString(where.offset())));
      }
      byte[] text = record.value() == null ? null : masked(record.value());
      if (text != null && text.length > MAX_DEAD_LETTER_BYTES) {
        headers.add("weir.errors.value.original.size", utf8(Integer.toString(text.length)));
        text = Arrays.copyOf(text, MAX_DEAD_LETTER_BYTES);
      }
      context.forward(record.withValue(new Validated(null, text)).withHeaders(headers)
          .withTimestamp(Math.max(context.currentStreamTimeMs(), 0)));
    }

    private static byte[] masked(byte[] bytes) {
      // ISO-8859-1 maps bytes to chars one to one, so masking keeps every other byte as it was.
      return Payments.maskCardNumbers(new String(bytes, StandardCharsets.ISO_8859_1))
          .getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] utf8(String text) {
      return text.getBytes(StandardCharsets.UTF_8);
    }
  }

  /** The rules and their cooldown, evaluated once a payment's window updates are all in. */
  static final class Rules implements Processor<CardKey, RuleInput, String, String> {
    private record Crossing(String rule, long windowStart, long windowSize, long count, long sum) {}

    private final FraudConfig config;
    private final List<Crossing> velocity = new ArrayList<>();
    private final List<Crossing> highSpend = new ArrayList<>();
    private final List<Crossing> geoHop = new ArrayList<>();
    private ProcessorContext<String, String> context;
    private WindowStore<String, byte[]> cooldown;

    Rules(FraudConfig config) {
      this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, String> context) {
      this.context = context;
      this.cooldown = context.getStateStore(COOLDOWN);
    }

    @Override
    public void process(Record<CardKey, RuleInput> record) {
      RuleInput in = record.value();
      switch (in.kind()) {
        case RuleInput.MINUTE -> {
          if (in.minute().crossedVelocity) {
            velocity.add(new Crossing("VELOCITY", in.windowStart(), config.card1mSizeMs(),
                in.minute().count, in.minute().sum));
          }
        }
        case RuleInput.FIVE_MINUTE -> {
          Aggregates.FiveMinute f = in.fiveMinute();
          if (f.crossedHighSpend) {
            highSpend.add(new Crossing("HIGH_SPEND", in.windowStart(), config.card5mSizeMs(), f.count, f.sum));
          }
          if (f.crossedGeoHop) {
            geoHop.add(new Crossing("GEO_HOP", in.windowStart(), config.card5mSizeMs(), f.count, f.sum));
          }
        }
        default -> {
          String token = record.key().token();
          for (List<Crossing> rule : List.of(velocity, highSpend, geoHop)) {
            for (Crossing crossing : rule) {
              if (coolingDown(token, crossing)) continue;
              cooldown.put(token + ":" + crossing.rule(), new byte[] {'1'}, crossing.windowStart());
              context.forward(new Record<>(token, alert(token, in.payment(), crossing), record.timestamp()));
            }
            rule.clear();
          }
        }
      }
    }

    /** After an alert for a window starting at s, that rule's windows starting before s + S are quiet. */
    private boolean coolingDown(String token, Crossing crossing) {
      try (WindowStoreIterator<byte[]> found = cooldown.fetch(token + ":" + crossing.rule(),
          crossing.windowStart() - crossing.windowSize() + 1, Long.MAX_VALUE)) {
        return found.hasNext();
      }
    }

    private static String alert(String token, Payments.Payment payment, Crossing crossing) {
      StringBuilder json = new StringBuilder(256);
      json.append("{\"alert_id\":");
      Json.quote(json, token + ":" + crossing.rule() + ":" + crossing.windowStart());
      json.append(",\"rule\":\"").append(crossing.rule()).append("\",\"card\":");
      Json.quote(json, payment.maskedCard());
      json.append(",\"window_start\":").append(crossing.windowStart())
          .append(",\"window_end\":").append(crossing.windowStart() + crossing.windowSize())
          .append(",\"count\":").append(crossing.count())
          .append(",\"sum\":").append(crossing.sum() / 100).append('.')
          .append(String.format("%02d", crossing.sum() % 100))
          .append(",\"txn_id\":");
      Json.quote(json, payment.txnId());
      json.append(",\"ts\":").append(payment.ts()).append('}');
      return json.toString();
    }
  }
}
