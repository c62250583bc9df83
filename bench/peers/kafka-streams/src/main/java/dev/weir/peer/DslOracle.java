package dev.weir.peer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.test.TestRecord;

/**
 * The oracle of weir's DSL (docs/dsl.md, "The oracle"): runs scenario files through Kafka
 * Streams' own TopologyTestDriver, record cache off, and prints every output record in the
 * order the driver produced it. weir's tests/dsl_oracle_test.cc builds the same-named
 * topologies with weir's DSL, runs the same scenarios through weir's test driver and compares
 * the two outputs line for line.
 *
 * <p>Scenario file: lines of tab-separated fields, '#' starts a comment.
 * <pre>
 * topology NAME                  one of the names in build() below
 * pipe TOPIC KEY VALUE TIMESTAMP  a record (KEY or VALUE \N: null)
 * </pre>
 * Output, per scenario: "== FILE", then per output record "TOPIC KEY VALUE TIMESTAMP" (tabs),
 * then "== end". Every topology reads String/String topics and writes String/String to "out".
 */
public final class DslOracle {
  static final String NULL = "\\N";
  static final Serde<String> S = Serdes.String();

  private DslOracle() {}

  static Path stateDir;

  public static void main(String[] args) throws IOException {
    if (args.length == 0) {
      System.err.println("usage: DslOracle SCENARIO...  (see the class comment for the format)");
      System.exit(2);
    }
    // A state directory of this run's own: two runs at once must not share RocksDB stores.
    stateDir = Files.createTempDirectory("dsl-oracle-");
    StringBuilder out = new StringBuilder();
    for (String file : args) {
      out.append("== ").append(file).append('\n');
      run(Path.of(file), Files.readAllLines(Path.of(file)), out);
      out.append("== end\n");
    }
    System.out.print(out);
    try (java.util.stream.Stream<Path> paths = Files.walk(stateDir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static String field(String s) {
    return s.equals(NULL) ? null : s;
  }

  static String render(String s) {
    return s == null ? NULL : s;
  }

  static void run(Path file, List<String> lines, StringBuilder out) {
    String name = null;
    for (String line : lines) {
      String[] f = line.split("\t", -1);
      if (f[0].equals("topology")) name = f[1];
    }
    if (name == null) throw new IllegalArgumentException(file + ": no 'topology' line");
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "dsl-oracle");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    // Stream-stream outer joins emit unmatched records at every record, not at most once per
    // second of the driver's wall clock (docs/dsl.md, "Intended differences").
    props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
    try (TopologyTestDriver driver = new TopologyTestDriver(build(name), props)) {
      Map<String, TestInputTopic<String, String>> inputs = new HashMap<>();
      TestOutputTopic<String, String> output =
          driver.createOutputTopic("out", S.deserializer(), S.deserializer());
      int number = 0;
      for (String line : lines) {
        ++number;
        if (line.isEmpty() || line.startsWith("#") || line.startsWith("topology\t")) continue;
        String[] f = line.split("\t", -1);
        if (!f[0].equals("pipe") || f.length != 5) {
          throw new IllegalArgumentException(file + ":" + number + ": not 'pipe TOPIC KEY VALUE TS'");
        }
        TestInputTopic<String, String> input = inputs.computeIfAbsent(
            f[1], t -> driver.createInputTopic(t, S.serializer(), S.serializer()));
        input.pipeInput(new TestRecord<>(field(f[2]), field(f[3]), null, Long.parseLong(f[4])));
        for (TestRecord<String, String> r : output.readRecordsToList()) {
          out.append("out\t").append(render(r.key())).append('\t').append(render(r.value()))
              .append('\t').append(r.timestamp()).append('\n');
        }
      }
    }
  }

  static final StreamJoined<String, String, String> SSS = StreamJoined.with(S, S, S);

  static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  static String sessionKey(Windowed<String> w) {
    return w.key() + "@" + w.window().start() + "-" + w.window().end();
  }

  static String windowKey(Windowed<String> w) {
    return w.key() + "@" + w.window().start();
  }

  /** The topologies by name; tests/dsl_oracle_test.cc has weir's twin of each. */
  static Topology build(String name) {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, String> in = b.stream("in", Consumed.with(S, S));
    switch (name) {
      case "filter-map" -> in.filter((k, v) -> !v.startsWith("x"))
          .mapValues(v -> v + "!")
          .selectKey((k, v) -> v.substring(0, 1))
          .to("out", Produced.with(S, S));
      case "windowed-count" -> in.groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10_000), Duration.ofMillis(5_000)))
          .count()
          .toStream((w, v) -> windowKey(w))
          .mapValues(v -> Long.toString(v))
          .to("out", Produced.with(S, S));
      // -sliced: weir's twin aggregates through its slicing form; Kafka Streams has one form.
      case "hopping-sum", "hopping-sum-sliced" -> in.groupBy((k, v) -> v.substring(0, 1), Grouped.with(S, S))
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10_000), Duration.ofMillis(2_000))
              .advanceBy(Duration.ofMillis(5_000)))
          .aggregate(() -> 0L, (k, v, sum) -> sum + v.length(),
              Materialized.with(S, Serdes.Long()))
          .toStream((w, v) -> windowKey(w))
          .mapValues(v -> Long.toString(v))
          .to("out", Produced.with(S, S));
      case "windowed-reduce" -> in.groupByKey()
          .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(5_000)))
          .reduce((a, v) -> a + "+" + v)
          .toStream((w, v) -> windowKey(w))
          .to("out", Produced.with(S, S));
      case "flatmap-split-merge" -> {
        Map<String, KStream<String, String>> branches = in
            .flatMap((k, v) -> {
              List<KeyValue<String, String>> out = new ArrayList<>();
              for (char c : v.toCharArray()) out.add(KeyValue.pair(k + c, v));
              return out;
            })
            .split(Named.as("b-"))
            .branch((k, v) -> k.endsWith("x"), Branched.as("x"))
            .defaultBranch(Branched.as("rest"));
        branches.get("b-x").mapValues(v -> "x:" + v)
            .merge(branches.get("b-rest").mapValues(v -> "o:" + v))
            .to("out", Produced.with(S, S));
      }
      case "regroup-count" -> in.groupBy((k, v) -> v, Grouped.with(S, S))
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(5_000), Duration.ofMillis(1_000)))
          .count()
          .toStream((w, v) -> windowKey(w))
          .mapValues(v -> Long.toString(v))
          .to("out", Produced.with(S, S));
      // The topologies with tables; their input holds null keys and values.
      case "table-filter-map" -> b.table("tin", Consumed.with(S, S))
          .filter((k, v) -> !v.startsWith("x"))
          .mapValues(v -> v + "!")
          .toStream()
          .to("out", Produced.with(S, S));
      case "stream-count" -> in.groupByKey()
          .count()
          .toStream()
          .mapValues(v -> Long.toString(v))
          .to("out", Produced.with(S, S));
      case "regroup-reduce" -> in.groupBy((k, v) -> v == null ? null : v.substring(0, 1),
              Grouped.with(S, S))
          .reduce((a, v) -> a + "+" + v)
          .toStream()
          .to("out", Produced.with(S, S));
      case "stream-table-join" -> in.join(b.table("tin", Consumed.with(S, S)),
              (v, t) -> v + "/" + t)
          .to("out", Produced.with(S, S));
      case "stream-table-left-join" -> in.leftJoin(b.table("tin", Consumed.with(S, S)),
              (v, t) -> v + "/" + t)
          .to("out", Produced.with(S, S));
      case "totable-left-join" -> {
        KTable<String, String> table = b.stream("tin", Consumed.with(S, S))
            .toTable()
            .filter((k, v) -> !v.startsWith("x"));
        in.leftJoin(table, (v, t) -> v + "/" + t).to("out", Produced.with(S, S));
      }
      case "aggregate-join" -> {
        KTable<String, Long> counts = b.stream("tin", Consumed.with(S, S)).groupByKey().count();
        in.join(counts, (v, c) -> v + "#" + c).to("out", Produced.with(S, S));
      }
      case "table-table-join" -> b.table("tin", Consumed.with(S, S))
          .join(b.table("tin2", Consumed.with(S, S)), (x, y) -> x + "/" + y)
          .toStream()
          .to("out", Produced.with(S, S));
      case "table-table-left-join" -> b.table("tin", Consumed.with(S, S))
          .leftJoin(b.table("tin2", Consumed.with(S, S)), (x, y) -> x + "/" + y)
          .toStream()
          .to("out", Produced.with(S, S));
      case "table-table-outer-join" -> b.table("tin", Consumed.with(S, S))
          .outerJoin(b.table("tin2", Consumed.with(S, S)), (x, y) -> x + "/" + y)
          .toStream()
          .to("out", Produced.with(S, S));
      case "table-groupby-count" -> b.table("tin", Consumed.with(S, S))
          .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
          .count()
          .toStream()
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      case "table-groupby-reduce" -> b.table("tin", Consumed.with(S, S))
          .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), k + v), Grouped.with(S, S))
          .reduce((a, v) -> a + "+" + v, (a, v) -> a + "-" + v)
          .toStream()
          .to("out", Produced.with(S, S));
      // A join of filtered tables feeding an aggregation: letters' total length per first letter.
      case "join-groupby-aggregate" -> b.table("tin", Consumed.with(S, S))
          .filter((k, v) -> !v.startsWith("x"))
          .leftJoin(b.table("tin2", Consumed.with(S, S)), (x, y) -> x + (y == null ? "" : y))
          .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
          .aggregate(() -> 0L, (k, v, sum) -> sum + v.length(), (k, v, sum) -> sum - v.length(),
              Materialized.with(S, Serdes.Long()))
          .toStream()
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      // A filtered table read twice: its updates, and counted by a regrouping, which asks it
      // for old values (an update filtered out before and after is then not forwarded).
      case "table-filter-groupby" -> {
        KTable<String, String> kept = b.table("tin", Consumed.with(S, S))
            .filter((k, v) -> !v.startsWith("x"));
        kept.toStream().to("out", Produced.with(S, S));
        kept.groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
            .count()
            .toStream()
            .mapValues(v -> v == null ? null : "#" + v)
            .to("out", Produced.with(S, S));
      }
      // Windowed joins of "in" and "in2": 3 s either way (or 3 s back and 1 s ahead), grace 2 s.
      case "stream-stream-join" -> in.join(b.stream("in2", Consumed.with(S, S)),
              (x, y) -> x + "/" + y, JoinWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(2_000)), SSS)
          .to("out", Produced.with(S, S));
      case "stream-stream-left-join" -> in.leftJoin(b.stream("in2", Consumed.with(S, S)),
              (x, y) -> x + "/" + y, JoinWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(2_000)), SSS)
          .to("out", Produced.with(S, S));
      case "stream-stream-outer-join" -> in.outerJoin(b.stream("in2", Consumed.with(S, S)),
              (x, y) -> x + "/" + y, JoinWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(2_000)), SSS)
          .to("out", Produced.with(S, S));
      case "stream-stream-outer-join-asymmetric" -> in.outerJoin(b.stream("in2", Consumed.with(S, S)),
              (x, y) -> x + "/" + y,
              JoinWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(2_000)).after(ms(1_000)), SSS)
          .to("out", Produced.with(S, S));
      // Sessions of 3 s inactivity, 2 s grace (counted, with null keys and values), and of 2 s
      // without grace (reduced).
      case "session-count" -> in.groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(3_000), ms(2_000)))
          .count()
          .toStream((w, v) -> sessionKey(w))
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      case "session-reduce" -> in.groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(ms(2_000)))
          .reduce((a, v) -> a + "+" + v)
          .toStream((w, v) -> sessionKey(w))
          .to("out", Produced.with(S, S));
      // Sliding windows of 3 s with 2 s grace (counted, with null keys and values; and their
      // final results with 1 s grace), and of 5 s without grace (reduced).
      case "sliding-count" -> in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(2_000)))
          .count()
          .toStream((w, v) -> sessionKey(w))
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      case "sliding-reduce" -> in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(ms(5_000)))
          .reduce((a, v) -> a + "+" + v)
          .toStream((w, v) -> sessionKey(w))
          .to("out", Produced.with(S, S));
      case "sliding-count-suppress" -> in.groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(3_000), ms(1_000)))
          .count()
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream((w, v) -> sessionKey(w))
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      // Suppression: final results of tumbling windows and of sessions, and a time limit on a
      // table (with a 3-record buffer that emits early) and on a count.
      case "windowed-count-suppress" -> in.groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(ms(10_000), ms(5_000)))
          .count()
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream((w, v) -> windowKey(w))
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      case "session-suppress" -> in.groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(3_000), ms(2_000)))
          .count()
          .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
          .toStream((w, v) -> sessionKey(w))
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      case "table-suppress-time-limit" -> b.table("tin", Consumed.with(S, S))
          .suppress(Suppressed.untilTimeLimit(ms(4_000), Suppressed.BufferConfig.maxRecords(3)))
          .toStream()
          .to("out", Produced.with(S, S));
      case "count-suppress-time-limit" -> in.groupByKey()
          .count()
          .suppress(Suppressed.untilTimeLimit(ms(2_000), Suppressed.BufferConfig.unbounded()))
          .toStream()
          .mapValues(v -> v == null ? null : Long.toString(v))
          .to("out", Produced.with(S, S));
      // A stream joined with a global table on the key its value's length names (1 -> b).
      case "stream-globaltable-join" -> in.join(b.globalTable("gin", Consumed.with(S, S)),
              (k, v) -> v == null ? null : String.valueOf("abcd".charAt(v.length())),
              (v, g) -> v + "/" + g)
          .to("out", Produced.with(S, S));
      case "stream-globaltable-left-join" -> in.leftJoin(b.globalTable("gin", Consumed.with(S, S)),
              (k, v) -> v == null ? null : String.valueOf("abcd".charAt(v.length())),
              (v, g) -> v + "/" + g)
          .to("out", Produced.with(S, S));
      default -> throw new IllegalArgumentException("no topology named " + name);
    }
    return b.build();
  }
}
