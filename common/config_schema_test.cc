#include "common/config_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace weir::config {
namespace {

using ::testing::HasSubstr;

struct Options {
  int64_t threads = 1;
  int64_t cache = 1024;
  bool fast = false;
  std::string name = "app";
  enum class Mode { kA, kB };
  Mode mode = Mode::kA;
  std::string dir = "/tmp/x";
  std::vector<std::string> topics;
  std::map<std::string, std::string> kafka;
};

const Schema<Options>& TestSchema() {
  static const auto* schema =
      &(*new Schema<Options>())
           .Int("num.threads", &Options::threads, 1, 64, "Threads.")
           .Bytes("cache.bytes", &Options::cache, 0, int64_t{1} << 40, "Cache.")
           .Bool("fast", &Options::fast, "Fast.")
           .String("app.name", &Options::name, "Name.")
           .Enum("mode", &Options::mode, {{"a", Options::Mode::kA}, {"b", Options::Mode::kB}},
                 "Mode.")
           .Path("state.dir", &Options::dir, "Dir.")
           .StringList("topics", &Options::topics, "Topics.")
           .Prefix("kafka.", &Options::kafka, "Passthrough.");
  return *schema;
}

class ConfigSchemaTest : public ::testing::Test {
 protected:
  // Writes `text` to a file in a fresh directory and returns its path.
  std::string Write(const std::string& text) {
    const std::filesystem::path dir =
        std::filesystem::path(::testing::TempDir()) /
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "weir.yaml").string();
    std::ofstream(path) << text;
    return path;
  }

  absl::Status Load(const std::string& text) {
    return TestSchema().LoadFile(Write(text), options_);
  }

  Options options_;
};

TEST_F(ConfigSchemaTest, LoadsEveryType) {
  const std::string path = Write(
      "num.threads: 4\ncache.bytes: 64MiB\nfast: true\napp.name: fraud\nmode: b\n"
      "state.dir: state\ntopics: [payments:12, alerts:4]\nkafka.linger.ms: 20\n");
  Provenance provenance;
  ASSERT_TRUE(TestSchema().LoadFile(path, options_, &provenance).ok());
  EXPECT_EQ(options_.threads, 4);
  EXPECT_EQ(options_.cache, 64 << 20);
  EXPECT_TRUE(options_.fast);
  EXPECT_EQ(options_.name, "fraud");
  EXPECT_EQ(options_.mode, Options::Mode::kB);
  EXPECT_EQ(options_.dir, (std::filesystem::path(path).parent_path() / "state").string());
  EXPECT_THAT(options_.topics, ::testing::ElementsAre("payments:12", "alerts:4"));
  EXPECT_EQ(options_.kafka.at("linger.ms"), "20");
  EXPECT_EQ(provenance.at("num.threads"), path + ":1");
  EXPECT_EQ(provenance.at("kafka.linger.ms"), path + ":8");
  EXPECT_FALSE(provenance.contains("missing"));
}

TEST_F(ConfigSchemaTest, NestedMappingsAreDottedKeys) {
  ASSERT_TRUE(Load("app:\n  name: nested\nkafka:\n  security.protocol: SSL\n").ok());
  EXPECT_EQ(options_.name, "nested");
  EXPECT_EQ(options_.kafka.at("security.protocol"), "SSL");
}

TEST_F(ConfigSchemaTest, EmptyFileKeepsDefaults) {
  ASSERT_TRUE(Load("").ok());
  EXPECT_EQ(options_.threads, 1);
}

TEST_F(ConfigSchemaTest, UnknownKeyNamesFileLineAndSuggestion) {
  const absl::Status status = Load("mode: a\nnum.thread: 2\n");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.ToString(), HasSubstr("weir.yaml:2: unknown key 'num.thread'"));
  EXPECT_THAT(status.ToString(), HasSubstr("did you mean 'num.threads'?"));
}

TEST_F(ConfigSchemaTest, WrongTypeNamesKeyAndExpectation) {
  const absl::Status status = Load("num.threads: two\n");
  EXPECT_THAT(status.ToString(),
              HasSubstr("weir.yaml:1: key 'num.threads': expected an integer in [1, 64], "
                        "got 'two'"));
  EXPECT_THAT(Load("fast: maybe\n").ToString(),
              HasSubstr("key 'fast': expected true or false, got 'maybe'"));
  EXPECT_THAT(Load("app.name: [a, b]\n").ToString(),
              HasSubstr("key 'app.name': expected a string, got a list"));
  EXPECT_THAT(Load("mode: c\n").ToString(), HasSubstr("key 'mode': expected one of 'a', 'b'"));
  EXPECT_THAT(Load("num.threads:\n").ToString(), HasSubstr("got nothing"));
  EXPECT_THAT(Load("topics: [[a]]\n").ToString(), HasSubstr("expected a list of strings"));
}

TEST_F(ConfigSchemaTest, OutOfRangeIsRejected) {
  EXPECT_THAT(Load("num.threads: 0\n").ToString(),
              HasSubstr("key 'num.threads': expected an integer in [1, 64], got '0'"));
  EXPECT_THAT(Load("num.threads: 65\n").ToString(), HasSubstr("got '65'"));
  EXPECT_THAT(Load("cache.bytes: 2048GiB\n").ToString(),
              HasSubstr("key 'cache.bytes': expected a byte size in [0, 1099511627776]"));
  EXPECT_THAT(Load("cache.bytes: -1\n").ToString(), HasSubstr("got '-1'"));
  EXPECT_THAT(Load("num.threads: 99999999999999999999\n").ToString(), HasSubstr("expected"));
}

TEST_F(ConfigSchemaTest, DuplicateKeyIsAnError) {
  EXPECT_THAT(Load("mode: a\nmode: b\n").ToString(),
              HasSubstr("weir.yaml:2: key 'mode' is set twice"));
}

TEST_F(ConfigSchemaTest, InvalidYamlNamesLine) {
  const absl::Status status = Load("mode: a\n  bad: [\n");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.ToString(), HasSubstr("weir.yaml:"));
  EXPECT_THAT(status.ToString(), HasSubstr("not valid YAML"));
}

TEST_F(ConfigSchemaTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(Load("- a\n- b\n").ToString(),
              HasSubstr("expected a mapping of keys to values at the top level"));
}

TEST_F(ConfigSchemaTest, MissingFileIsNotFound) {
  const absl::Status status = TestSchema().LoadFile("/nonexistent/weir.yaml", options_);
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(status.ToString(), HasSubstr("/nonexistent/weir.yaml: cannot read"));
}

TEST_F(ConfigSchemaTest, SetOverridesOneKey) {
  Provenance provenance;
  ASSERT_TRUE(TestSchema().Set("num.threads=8", options_, &provenance).ok());
  ASSERT_TRUE(TestSchema().Set("topics=[x:1,y:2]", options_).ok());
  ASSERT_TRUE(TestSchema().Set("app.name=", options_).ok());
  ASSERT_TRUE(TestSchema().Set("kafka.client.id=a=b", options_).ok());
  EXPECT_EQ(options_.threads, 8);
  EXPECT_THAT(options_.topics, ::testing::ElementsAre("x:1", "y:2"));
  EXPECT_EQ(options_.name, "");
  EXPECT_EQ(options_.kafka.at("client.id"), "a=b");
  EXPECT_EQ(provenance.at("num.threads"), "--set num.threads=8");
}

TEST_F(ConfigSchemaTest, SetErrorsNameTheFlag) {
  EXPECT_THAT(TestSchema().Set("num.threads=0", options_).ToString(),
              HasSubstr("--set num.threads=0: key 'num.threads': expected an integer"));
  EXPECT_THAT(TestSchema().Set("nope=1", options_).ToString(),
              HasSubstr("--set nope=1: unknown key 'nope'"));
  EXPECT_THAT(TestSchema().Set("num.threads", options_).ToString(),
              HasSubstr("expected KEY=VALUE"));
}

TEST_F(ConfigSchemaTest, MarkdownTableListsEveryKeyWithDefault) {
  const std::string table = TestSchema().MarkdownTable();
  EXPECT_THAT(table, HasSubstr("| `num.threads` | integer | `1` | Threads. |"));
  EXPECT_THAT(table, HasSubstr("| `cache.bytes` | bytes | `1KiB` | Cache. |"));
  EXPECT_THAT(table, HasSubstr("| `topics` | list of strings | `[]` | Topics. |"));
  EXPECT_THAT(table, HasSubstr("| `kafka.<property>` | string | (none) | Passthrough. |"));
}

TEST_F(ConfigSchemaTest, DumpShowsValuesWhereTheyCameFromAndMasksSecrets) {
  ASSERT_TRUE(TestSchema().Set("kafka.sasl.password=hunter2", options_, nullptr).ok());
  ASSERT_TRUE(TestSchema().Set("kafka.ssl.key.password=${KEY_PW}", options_, nullptr).ok());
  Provenance provenance{{"num.threads", "--set num.threads=3"}};
  const std::string dump = TestSchema().Dump(options_, provenance);
  EXPECT_THAT(dump, HasSubstr("num.threads: 1  # --set num.threads=3\n"));
  EXPECT_THAT(dump, HasSubstr("mode: a  # default\n"));
  EXPECT_THAT(dump, HasSubstr("kafka.sasl.password: '******'"));
  EXPECT_THAT(dump, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(dump, HasSubstr("kafka.ssl.key.password: ${KEY_PW}"));
}

TEST_F(ConfigSchemaTest, ASecretSetOnTheCommandLineIsMaskedInItsProvenanceToo) {
  Provenance provenance;
  for (const char* assignment :
       {"kafka.sasl.password=hunter2", "kafka.sasl.oauthbearer.client.secret=hunter3",
        "kafka.sasl.jaas.config=hunter4", "kafka.ssl.key.pem=hunter5"}) {
    ASSERT_TRUE(TestSchema().Set(assignment, options_, &provenance).ok()) << assignment;
  }
  const std::string dump = TestSchema().Dump(options_, provenance);
  EXPECT_THAT(dump, HasSubstr("kafka.sasl.password: '******'  # --set kafka.sasl.password=******"));
  EXPECT_THAT(dump, ::testing::Not(HasSubstr("hunter")));
}

TEST(IsSecretKey, NamesPasswordsSecretsKeysAndTokens) {
  for (const char* key :
       {"sasl.password", "ssl.key.password", "ssl.key.pem", "sasl.jaas.config",
        "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl_key", "token"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key :
       {"bootstrap.servers", "linger.ms", "security.protocol", "sasl.mechanism", "sasl.username"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

}  // namespace
}  // namespace weir::config
