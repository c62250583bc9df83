package dev.weir.peer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The two windowed aggregates and their serdes. Each aggregator also notes whether the update it
 * made crossed a rule's threshold (the record that takes the aggregate from below to at or above
 * it fires, docs/fraud.md): a transient flag on the new aggregate, which the window aggregation
 * forwards as the very object the aggregator returned (caching is off), never stored.
 */
final class Aggregates {
  private Aggregates() {}

  /** card-1m: count and sum (cents). */
  static final class Minute {
    long count;
    long sum;
    transient boolean crossedVelocity;

    Minute add(Payments.Payment payment, FraudConfig config) {
      Minute next = new Minute();
      next.count = count + 1;
      next.sum = sum + payment.amountCents();
      next.crossedVelocity = count < config.velocityCount() && next.count >= config.velocityCount();
      return next;
    }
  }

  /** card-5m: count, sum and max (cents), distinct countries and merchants (sorted). */
  static final class FiveMinute {
    long count;
    long sum;
    long max;
    List<String> countries = new ArrayList<>();
    List<String> merchants = new ArrayList<>();
    transient boolean crossedHighSpend;
    transient boolean crossedGeoHop;

    FiveMinute add(Payments.Payment payment, FraudConfig config) {
      FiveMinute next = new FiveMinute();
      next.count = count + 1;
      next.sum = sum + payment.amountCents();
      next.max = Math.max(max, payment.amountCents());
      next.countries = withSorted(countries, payment.country());
      next.merchants = withSorted(merchants, payment.merchant());
      next.crossedHighSpend = sum < config.highSpendCents() && next.sum >= config.highSpendCents();
      next.crossedGeoHop =
          countries.size() < config.geoHopCountries() && next.countries.size() >= config.geoHopCountries();
      return next;
    }

    private static List<String> withSorted(List<String> sorted, String value) {
      int at = Collections.binarySearch(sorted, value);
      if (at >= 0) return sorted;
      List<String> next = new ArrayList<>(sorted.size() + 1);
      next.addAll(sorted);
      next.add(-at - 1, value);
      return next;
    }
  }

  /** card-1m's value: 16 bytes, count and sum. */
  static Serde<Minute> minuteSerde() {
    Serializer<Minute> serializer = (topic, m) -> {
      if (m == null) return null;
      return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(m.count).putLong(m.sum).array();
    };
    Deserializer<Minute> deserializer = (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      Minute m = new Minute();
      m.count = in.getLong();
      m.sum = in.getLong();
      return m;
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /**
   * card-5m's value in weir's layout (docs/fraud.md "Store values"): little-endian count, sum,
   * max, then countries and merchants, each a 4-byte count and (2-byte length, bytes) per string.
   */
  static Serde<FiveMinute> fiveMinuteSerde() {
    Serializer<FiveMinute> serializer = (topic, f) -> {
      if (f == null) return null;
      int size = 24 + 8;
      List<byte[]> countries = utf8(f.countries), merchants = utf8(f.merchants);
      for (byte[] s : countries) size += 2 + s.length;
      for (byte[] s : merchants) size += 2 + s.length;
      ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
      out.putLong(f.count).putLong(f.sum).putLong(f.max);
      putStrings(out, countries);
      putStrings(out, merchants);
      return out.array();
    };
    Deserializer<FiveMinute> deserializer = (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      FiveMinute f = new FiveMinute();
      f.count = in.getLong();
      f.sum = in.getLong();
      f.max = in.getLong();
      f.countries = getStrings(in);
      f.merchants = getStrings(in);
      return f;
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  private static List<byte[]> utf8(List<String> strings) {
    List<byte[]> out = new ArrayList<>(strings.size());
    for (String s : strings) out.add(s.getBytes(StandardCharsets.UTF_8));
    return out;
  }

  private static void putStrings(ByteBuffer out, List<byte[]> strings) {
    out.putInt(strings.size());
    for (byte[] s : strings) {
      out.putShort((short) s.length);
      out.put(s);
    }
  }

  private static List<String> getStrings(ByteBuffer in) {
    int n = in.getInt();
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; ++i) {
      byte[] s = new byte[Short.toUnsignedInt(in.getShort())];
      in.get(s);
      out.add(new String(s, StandardCharsets.UTF_8));
    }
    return out;
  }
}
