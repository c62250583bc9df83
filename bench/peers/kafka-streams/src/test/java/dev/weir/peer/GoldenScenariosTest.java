package dev.weir.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * weir's golden fraud scenarios (tests/golden/fraud/, written from the stories, not from weir's
 * output) through this Kafka Streams topology: the same alerts byte for byte and in order, and
 * the same late-drop and dead-letter counts. An independent check of weir's window semantics.
 */
class GoldenScenariosTest {
  private static final Path GOLDEN = Path.of(System.getProperty("golden.dir", "../../../tests/golden/fraud"));
  private static final JsonFactory JSON = new JsonFactory();

  @TestFactory
  Stream<DynamicTest> everyScenario() throws IOException {
    assertTrue(Files.isDirectory(GOLDEN), "no golden scenarios at " + GOLDEN.toAbsolutePath());
    List<Path> scenarios;
    try (Stream<Path> dirs = Files.list(GOLDEN)) {
      scenarios = dirs.filter(Files::isDirectory).sorted().toList();
    }
    assertFalse(scenarios.isEmpty(), "no scenario directories in " + GOLDEN);
    return scenarios.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> check(dir)));
  }

  /** The card field of a line, as weir replay keys it ("" when there is none). */
  private static String cardOf(String line) {
    try (JsonParser parser = JSON.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) return "";
      for (JsonToken t = parser.nextToken(); t == JsonToken.FIELD_NAME; t = parser.nextToken()) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        if (name.equals("card") && value == JsonToken.VALUE_STRING) return parser.getText();
        parser.skipChildren();
      }
    } catch (IOException notJson) {
      // no card: an empty key, as weir replay gives it
    }
    return "";
  }

  private static void check(Path dir) throws IOException {
    FraudConfig config = FraudConfig.defaults();
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "golden");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("golden").toString());
    try (TopologyTestDriver driver = new TopologyTestDriver(
        FraudTopology.build(config, new Payments.Tokenizer("golden-key")), props)) {
      TestInputTopic<String, byte[]> payments = driver.createInputTopic(config.paymentsTopic(),
          new org.apache.kafka.common.serialization.StringSerializer(), new ByteArraySerializer());
      for (String line : Files.readAllLines(dir.resolve("payments.jsonl"), StandardCharsets.UTF_8)) {
        payments.pipeInput(cardOf(line), line.getBytes(StandardCharsets.UTF_8));
      }
      TestOutputTopic<String, String> alerts = driver.createOutputTopic(config.alertsTopic(),
          new StringDeserializer(), new StringDeserializer());
      List<String> got = new ArrayList<>();
      for (TestRecord<String, String> alert : alerts.readRecordsToList()) got.add(alert.value());
      List<String> want = Files.readAllLines(dir.resolve("alerts.jsonl"), StandardCharsets.UTF_8)
          .stream().filter(line -> !line.isBlank()).toList();
      assertEquals(want, got, dir + ": alerts");

      long deadLetters = driver.createOutputTopic(config.dlqTopic(), new StringDeserializer(),
          new StringDeserializer()).readRecordsToList().size();
      double late = 0;
      for (Metric metric : driver.metrics().values()) {
        if (metric.metricName().name().equals("dropped-records-total")) late += (double) metric.metricValue();
      }
      String summary = Files.readString(dir.resolve("summary.txt"));
      assertTrue(summary.contains("dead letters: " + deadLetters + "\n"),
          dir + ": " + deadLetters + " dead letters, summary.txt says\n" + summary);
      assertTrue(summary.contains("late (dropped window updates): " + (long) late + "\n"),
          dir + ": " + (long) late + " late window updates, summary.txt says\n" + summary);
    }
  }

  @Test
  void amountsAreReadFromTheirText() {
    assertEquals(12540, Payments.amountCents("125.40"));
    assertEquals(500, Payments.amountCents("5"));
    assertEquals(-1, Payments.amountCents("1.005"));
    assertEquals(-1, Payments.amountCents("0"));
    assertEquals(-1, Payments.amountCents("1e3"));
  }

  @Test
  void cardNumbersAreMaskedButTimestampsAreNot() {
    assertEquals("{\"card\":\"411111******1111\",\"ts\":1732269902000}",
        Payments.maskCardNumbers("{\"card\":\"4111111111111111\",\"ts\":1732269902000}"));
  }
}
