package dev.weir.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;

/** Dead letters as weir writes them: masked, KIP-1034 headers, cut to fit the producer. */
class DeadLettersTest {
  private static String header(TestRecord<String, byte[]> record, String key) {
    return new String(record.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
  }

  @Test
  void oversizedAndMiskeyedRecordsAreMaskedDeadLettersThatFit() throws Exception {
    FraudConfig config = FraudConfig.defaults();
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "dead-letters");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("dead-letters").toString());
    try (TopologyTestDriver driver = new TopologyTestDriver(
        FraudTopology.build(config, new Payments.Tokenizer("key")), props)) {
      TestInputTopic<String, byte[]> payments = driver.createInputTopic(
          config.paymentsTopic(), new StringSerializer(), new ByteArraySerializer());
      byte[] huge = new byte[1_200_000];
      Arrays.fill(huge, (byte) 'x');
      System.arraycopy("4111111111111111 ".getBytes(StandardCharsets.US_ASCII), 0, huge, 0, 17);
      payments.pipeInput("4111111111111111", huge);
      payments.pipeInput("5500000000000004", ("{\"txn_id\":\"t1\",\"card\":\"4111111111111111\","
          + "\"amount\":10.00,\"merchant\":\"m\",\"country\":\"DE\",\"ts\":1732269900000}")
          .getBytes(StandardCharsets.UTF_8));

      List<TestRecord<String, byte[]>> dead = driver.createOutputTopic(config.dlqTopic(),
          new StringDeserializer(), new ByteArrayDeserializer()).readRecordsToList();
      assertEquals(2, dead.size());
      TestRecord<String, byte[]> cut = dead.get(0);
      assertTrue(cut.value().length <= FraudTopology.MAX_DEAD_LETTER_BYTES, "cut to fit");
      assertEquals("1200000", header(cut, "weir.errors.value.original.size"));
      assertEquals("InvalidPayment", header(cut, "__streams.errors.exception"));
      assertEquals("411111******1111", cut.key());
      assertTrue(new String(cut.value(), 0, 17, StandardCharsets.US_ASCII).startsWith("411111******1111"));

      TestRecord<String, byte[]> miskeyed = dead.get(1);
      assertEquals("InvalidKey", header(miskeyed, "__streams.errors.exception"));
      assertTrue(header(miskeyed, "__streams.errors.message").startsWith("key does not match card"));
      assertFalse(new String(miskeyed.value(), StandardCharsets.UTF_8).contains("4111111111111111"));
      assertEquals("0", header(miskeyed, "__streams.errors.partition"));
    }
  }
}
