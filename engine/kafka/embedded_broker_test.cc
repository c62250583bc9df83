#include "engine/kafka/embedded_broker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/kafka/topic_offsets.h"

namespace weir {
namespace {

using ::testing::HasSubstr;

TEST(ParseTopicSpec, AcceptsNameAndPartitions) {
  absl::StatusOr<TopicSpec> topic = ParseTopicSpec("payments-dlq.v1_x:12");
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->name, "payments-dlq.v1_x");
  EXPECT_EQ(topic->partitions, 12);
}

TEST(ParseTopicSpec, RejectsMalformedSpecs) {
  for (const char* bad : {"payments", "payments:", ":3", "pay ments:3", "payments:0",
                          "payments:1001", "payments:3x", "..:1", "a:-1"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseTopicSpec(bad).status())) << bad;
  }
  EXPECT_THAT(ParseTopicSpec("payments").status().ToString(),
              HasSubstr("expected NAME:PARTITIONS such as 'payments:12', got 'payments'"));
}

TEST(EmbeddedBroker, RejectsBadBrokerCounts) {
  EXPECT_TRUE(absl::IsInvalidArgument(EmbeddedBroker::Start(0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EmbeddedBroker::Start(17).status()));
}

// Produces `count` records to `topic` and waits until every one is acknowledged.
void Produce(const std::string& bootstrap, const std::string& topic, int count) {
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = bootstrap}, ClientKind::kProducer);
  ASSERT_TRUE(conf.ok()) << conf.status();
  absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < count; ++i) {
    const std::string key = absl::StrCat("k", i % 7);
    ASSERT_EQ(rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>("v"), 1), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer->get(), 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(EmbeddedBroker, AnswersWithNagleOff) {
  absl::StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(3);
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE((*broker)->CreateTopic({.name = "payments", .partitions = 6}).ok());
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = (*broker)->bootstrap_servers()}, ClientKind::kProducer);
  ASSERT_TRUE(conf.ok()) << conf.status();
  absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
  ASSERT_TRUE(producer.ok()) << producer.status();
  const rd_kafka_metadata_t* metadata = nullptr;  // connects to the brokers
  ASSERT_EQ(rd_kafka_metadata(producer->get(), 1, nullptr, &metadata, 10'000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_metadata_destroy(metadata);
  const EmbeddedBroker::SocketCount sockets = (*broker)->Sockets();
  EXPECT_GT(sockets.total, 3) << "three listeners and the producer's connection(s)";
  EXPECT_EQ(sockets.with_nagle, 0) << "of " << sockets.total;
}

TEST(EmbeddedBroker, CreatesTopicsThatClientsSee) {
  absl::StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(3);
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_EQ((*broker)->brokers(), 3);
  EXPECT_THAT((*broker)->bootstrap_servers(), ::testing::StartsWith("127.0.0.1:"));
  ASSERT_TRUE((*broker)->CreateTopic({.name = "payments", .partitions = 6}).ok());
  ASSERT_TRUE((*broker)->CreateTopic({.name = "alerts", .partitions = 2}).ok());

  Produce((*broker)->bootstrap_servers(), "payments", 500);

  absl::StatusOr<std::unique_ptr<TopicOffsetsReader>> reader =
      TopicOffsetsReader::Open({.bootstrap_servers = (*broker)->bootstrap_servers()});
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<TopicOffsets>> topics = (*reader)->Read(std::chrono::seconds(10));
  ASSERT_TRUE(topics.ok()) << topics.status();
  ASSERT_EQ(topics->size(), 2u);
  EXPECT_EQ((*topics)[0].topic, "alerts");
  EXPECT_EQ((*topics)[0].partitions, 2);
  EXPECT_EQ((*topics)[0].end_offsets, 0);
  EXPECT_EQ((*topics)[1].topic, "payments");
  EXPECT_EQ((*topics)[1].partitions, 6);
  EXPECT_EQ((*topics)[1].end_offsets, 500);
  EXPECT_EQ((*topics)[1].retained, 500);
}

}  // namespace
}  // namespace weir
