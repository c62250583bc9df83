#include "engine/runtime/app_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace weir {
namespace {

using ::testing::HasSubstr;

class AppConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::filesystem::path dir =
        std::filesystem::path(::testing::TempDir()) / "app_config_test" /
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "weir.yaml").string();
    std::ofstream(path) << text;
    return path;
  }

  absl::Status LoadError(const std::string& text, std::vector<std::string> overrides = {}) {
    return LoadAppConfig(Write(text), overrides).status();
  }
};

TEST_F(AppConfigTest, ShippedConfigIsValid) {
  absl::StatusOr<AppConfig> config = LoadAppConfig("config/weir.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->application_id, "fraud-detection");
  EXPECT_TRUE(config->bootstrap_servers.empty());
  EXPECT_THAT(config->broker_topics, ::testing::Contains("payments:12"));
}

TEST_F(AppConfigTest, DefaultsMatchKafkaStreams) {
  absl::StatusOr<AppConfig> config = LoadAppConfig("", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->commit_interval_ms, 30000);
  EXPECT_EQ(config->statestore_cache_max_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(config->processing_guarantee, ProcessingGuarantee::kAtLeastOnce);
}

TEST_F(AppConfigTest, ExactlyOnceShortensTheDefaultCommitInterval) {
  absl::StatusOr<AppConfig> config = LoadAppConfig("", {"processing.guarantee=exactly_once_v2"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->commit_interval_ms, 100);
  config = LoadAppConfig("", {"processing.guarantee=exactly_once_v2", "commit.interval.ms=500"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->commit_interval_ms, 500);
}

TEST_F(AppConfigTest, OverridesApplyAfterTheFileAndRecordWhere) {
  config::Provenance provenance;
  absl::StatusOr<AppConfig> config = LoadAppConfig(
      Write("application.id: a\nnum.stream.threads: 2\n"), {"num.stream.threads=3"}, &provenance);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_stream_threads, 3);
  EXPECT_EQ(provenance.at("num.stream.threads"), "--set num.stream.threads=3");
  EXPECT_THAT(provenance.at("application.id"), HasSubstr("weir.yaml:1"));
}

TEST_F(AppConfigTest, UnknownKeyIsAnError) {
  const absl::Status status = LoadError("application.id: a\ncommit.interval: 5\n");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.ToString(), HasSubstr("weir.yaml:2: unknown key 'commit.interval'"));
  EXPECT_THAT(status.ToString(), HasSubstr("did you mean 'commit.interval.ms'?"));
}

TEST_F(AppConfigTest, WrongTypeIsAnError) {
  EXPECT_THAT(LoadError("num.stream.threads: many\n").ToString(),
              HasSubstr("weir.yaml:1: key 'num.stream.threads': expected an integer in [0, 256], "
                        "got 'many'"));
  EXPECT_THAT(LoadError("processing.guarantee: exactly_once\n").ToString(),
              HasSubstr("key 'processing.guarantee': expected one of 'at_least_once', "
                        "'exactly_once_v2', got 'exactly_once'"));
  EXPECT_THAT(LoadError("statestore.cache.max.bytes: lots\n").ToString(),
              HasSubstr("key 'statestore.cache.max.bytes': expected a byte size"));
}

TEST_F(AppConfigTest, OutOfRangeIsAnError) {
  EXPECT_THAT(LoadError("metrics.port: 70000\n").ToString(),
              HasSubstr("key 'metrics.port': expected an integer in [0, 65535], got '70000'"));
  EXPECT_THAT(LoadError("commit.interval.ms: 0\n").ToString(),
              HasSubstr("key 'commit.interval.ms': expected an integer in [1, 86400000]"));
  EXPECT_THAT(LoadError("broker.brokers: 17\n").ToString(),
              HasSubstr("key 'broker.brokers': expected an integer in [1, 16]"));
}

TEST_F(AppConfigTest, ApplicationIdMustSuitTopicNames) {
  EXPECT_THAT(LoadError("application.id: fraud detection\n").ToString(),
              HasSubstr("weir.yaml:1: key 'application.id': expected 1-200 letters"));
}

TEST_F(AppConfigTest, BrokerTopicsNeedNameAndPartitions) {
  EXPECT_THAT(LoadError("broker.topics: [payments]\n").ToString(),
              HasSubstr("weir.yaml:1: key 'broker.topics': expected NAME:PARTITIONS"));
  EXPECT_THAT(LoadError("broker.topics: ['payments:0']\n").ToString(),
              HasSubstr("partitions must be a whole number in [1, 1000]"));
}

TEST_F(AppConfigTest, LibrdkafkaPropertiesAreCheckedByLibrdkafka) {
  const absl::Status status = LoadError("a: 1\n", {});
  EXPECT_THAT(status.ToString(), HasSubstr("unknown key 'a'"));
  EXPECT_THAT(LoadError("consumer.fetch.min.byte: 1\n").ToString(),
              HasSubstr("weir.yaml:1: key 'consumer.fetch.min.byte': librdkafka rejects it: No "
                        "such configuration property"));
  EXPECT_THAT(LoadError("kafka.linger.ms: soon\n").ToString(),
              HasSubstr("key 'kafka.linger.ms': librdkafka rejects it"));
  EXPECT_THAT(LoadError("", {"producer.compression.type=zip"}).ToString(),
              HasSubstr("--set producer.compression.type=zip: key 'producer.compression.type'"));
}

TEST_F(AppConfigTest, SecretsComeFromTheEnvironment) {
  EXPECT_THAT(LoadError("kafka.sasl.password: ${WEIR_TEST_UNSET_VARIABLE}\n").ToString(),
              HasSubstr("environment variable WEIR_TEST_UNSET_VARIABLE is not set"));
  setenv("WEIR_TEST_PASSWORD", "s3cret", 1);
  EXPECT_TRUE(LoadError("kafka.sasl.password: ${WEIR_TEST_PASSWORD}\n").ok());
}

TEST_F(AppConfigTest, MissingFileNamesThePath) {
  const absl::Status status = LoadAppConfig("no/such/weir.yaml", {}).status();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(status.ToString(), HasSubstr("no/such/weir.yaml: cannot read"));
}

}  // namespace
}  // namespace weir
