package dev.weir.peer;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/** Runs the fraud topology on Kafka Streams until SIGTERM (or SIGINT), then closes cleanly. */
public final class Main {
  private static final String USAGE = """
      usage: java -cp 'weir-kstreams-peer.jar:lib/*' dev.weir.peer.Main [flags]

      weir's fraud topology (docs/fraud.md) on Kafka Streams, for `weir bench kstreams`. Runs until
      SIGTERM or SIGINT, then closes (committing what it processed). The card token key comes from
      the environment variable WEIR_CARD_TOKEN_KEY, as in weir.

        --bootstrap-servers HOST:PORT   Kafka to read from (required)
        --application-id ID             consumer group and state prefix (default fraud-detection)
        --threads N                     num.stream.threads (default 1)
        --state-dir DIR                 state.dir (default /tmp/kafka-streams)
        --commit-interval-ms MS         commit.interval.ms (default 100, weir's default)
        --rocksdb-memory-bytes B        one block cache + write buffer manager shared by every
                                        store (default 0: Kafka Streams' per-store defaults)
        --payments T --alerts T --dlq T topics (default payments, fraud-alerts, payments-dlq)
      """;

  private Main() {}

  public static void main(String[] args) throws InterruptedException {
    Properties props = new Properties();
    FraudConfig config = FraudConfig.defaults();
    String bootstrap = null, applicationId = "fraud-detection", stateDir = "/tmp/kafka-streams";
    String payments = config.paymentsTopic(), alerts = config.alertsTopic(), dlq = config.dlqTopic();
    int threads = 1;
    long commitIntervalMs = 100, rocksdbMemory = 0;
    for (int i = 0; i < args.length; ++i) {
      String flag = args[i];
      if (flag.equals("--help") || flag.equals("-h")) {
        System.out.print(USAGE);
        return;
      }
      if (i + 1 >= args.length) usage("flag " + flag + " needs a value");
      String value = args[++i];
      try {
        switch (flag) {
          case "--bootstrap-servers" -> bootstrap = value;
          case "--application-id" -> applicationId = value;
          case "--threads" -> threads = Integer.parseInt(value);
          case "--state-dir" -> stateDir = value;
          case "--commit-interval-ms" -> commitIntervalMs = Long.parseLong(value);
          case "--rocksdb-memory-bytes" -> rocksdbMemory = Long.parseLong(value);
          case "--payments" -> payments = value;
          case "--alerts" -> alerts = value;
          case "--dlq" -> dlq = value;
          default -> usage("unknown flag " + flag);
        }
      } catch (NumberFormatException e) {
        usage("flag " + flag + " expects a number, got '" + value + "'");
      }
    }
    if (bootstrap == null) usage("--bootstrap-servers is required");
    config = config.withTopics(payments, alerts, dlq);

    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 10L << 20);  // weir's default
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    // weir's producer settings (config/weir.yaml), so both write alike.
    props.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
    props.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    if (rocksdbMemory > 0) {
      BoundedRocksDB.configure(rocksdbMemory);
      props.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDB.class);
    }

    KafkaStreams streams = new KafkaStreams(
        FraudTopology.build(config, Payments.Tokenizer.fromEnvironment("WEIR_CARD_TOKEN_KEY")), props);
    CountDownLatch closed = new CountDownLatch(1);
    streams.setStateListener((now, before) -> System.err.println("kafka-streams: " + before + " -> " + now));
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      closed.countDown();
    }, "shutdown"));
    streams.start();
    closed.await();
  }

  private static void usage(String message) {
    System.err.println("weir-kstreams-peer: " + message + " (see --help)");
    System.exit(2);
  }
}
