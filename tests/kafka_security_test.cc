// SASL_SSL on a real cluster (run only as the `kafka.` twin on Kafka 4.x and the `kafka39.` twin
// on Kafka 3.9: their fixtures start scripts/kafka.sh with --sasl-ssl). `weir run`, `weir
// loadgen` and `weir status` connect through the `kafka.` passthrough properties, the password
// coming from the environment as a deployment gives it, with PLAIN and, where the broker takes
// this librdkafka's SCRAM (Kafka 3.9, or librdkafka 2.6.1 and later), SCRAM-SHA-512; a wrong
// password fails within the timeout, exit 1, naming the refused login; where SCRAM cannot log
// in the refusal is explained; the password appears in no output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/kafka/topic_offsets.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"

namespace weir {
namespace {

using test::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using test::RunCommand;
using test::WaitFor;
using test::WeirBinary;
using Clock = std::chrono::steady_clock;

constexpr char kWrongPassword[] = "wrong-7f3a91";

class SaslSsl : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> plaintext = test::RealKafkaBootstrap();
    ASSERT_TRUE(plaintext.has_value()) << "runs only against a real cluster (ctest -L kafka)";
    plaintext_ = *plaintext;
    std::ifstream in(test::RealKafkaDir() + "/sasl_ssl.properties");
    ASSERT_TRUE(in) << "the cluster has no SASL_SSL listener (scripts/kafka.sh start --sasl-ssl)";
    for (std::string line; std::getline(in, line);) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) client_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    ASSERT_FALSE(client_["sasl.password"].empty());
    root_ = std::filesystem::temp_directory_path() / absl::StrCat("weir-sasl-", ::getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    const absl::Status reset =
        test::ResetRealKafka(plaintext_, {{.name = "payments", .partitions = 2},
                                             {.name = "fraud-alerts", .partitions = 2},
                                             {.name = "payments-dlq", .partitions = 2}});
    ASSERT_TRUE(reset.ok()) << reset;
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  // `--set` flags for the SASL_SSL listener with `mechanism`; the password is taken from
  // KAFKA_PASSWORD in the environment (`${KAFKA_PASSWORD}`, as config/weir.yaml shows).
  std::vector<std::string> Flags(const std::string& mechanism) const {
    return {"--set", "bootstrap.servers=" + client_.at("bootstrap.servers"),
            "--set", "kafka.security.protocol=SASL_SSL",
            "--set", "kafka.sasl.mechanism=" + mechanism,
            "--set", "kafka.sasl.username=" + client_.at("sasl.username"),
            "--set", "kafka.sasl.password=${KAFKA_PASSWORD}",
            "--set", "kafka.ssl.ca.location=" + client_.at("ssl.ca.location")};
  }
  std::vector<std::string> Command(std::vector<std::string> argv,
                                   const std::string& mechanism) const {
    for (const std::string& flag : Flags(mechanism)) argv.push_back(flag);
    return argv;
  }

  // `weir loadgen`, `weir run` and `weir status` over SASL_SSL with `mechanism`.
  void RunLoadgenAndStatus(const std::string& mechanism);

  std::string plaintext_;
  std::map<std::string, std::string> client_;  // sasl_ssl.properties
  std::filesystem::path root_;
};

// Whether this librdkafka logs in with SCRAM to the cluster: librdkafka before 2.6.1 repeats the
// nonce in its client-final message, which Kafka 3.7.2-3.9.x accept and 4.0 refuses.
bool ScramWorksHere() {
  return rd_kafka_version() >= 0x020601ff || test::RealKafkaVersion().rfind("3.", 0) == 0;
}

TEST_F(SaslSsl, RunLoadgenAndStatusConnectWithPlain) { RunLoadgenAndStatus("PLAIN"); }

TEST_F(SaslSsl, RunLoadgenAndStatusConnectWithScramSha512WhereItWorks) {
  if (!ScramWorksHere()) {
    GTEST_SKIP() << "librdkafka " << rd_kafka_version_str() << " cannot log in with SCRAM to "
                 << "Kafka " << test::RealKafkaVersion() << " (docs/kafka.md); the kafka39. "
                 << "twin runs this on Kafka 3.9";
  }
  RunLoadgenAndStatus("SCRAM-SHA-512");
}

void SaslSsl::RunLoadgenAndStatus(const std::string& mechanism) {
  const std::string password = client_["sasl.password"];
  setenv("KAFKA_PASSWORD", password.c_str(), 1);  // children inherit it
  std::string seen;                               // everything weir wrote

  const CommandResult loadgen =
      RunCommand(Command({WeirBinary(), "loadgen", "--records", "500", "--rate", "0", "--cards",
                          "50", "--progress-interval", "0"},
                         mechanism),
                 "", std::chrono::seconds(120));
  ASSERT_EQ(loadgen.exit_status, 0) << loadgen.err;
  seen += loadgen.out + loadgen.err;

  const std::string log = (root_ / "run.log").string();
  absl::StatusOr<std::unique_ptr<test::Subprocess>> run = test::Subprocess::Start(
      Command({WeirBinary(), "run", "--progress-interval", "0", "--set", "application.id=sasl",
               "--set", "metrics.port=0", "--set", "state.dir=" + (root_ / "state").string()},
              mechanism),
      log);
  ASSERT_TRUE(run.ok()) << run.status();
  WaitFor([&] { return CommittedRecords(plaintext_, "sasl", "payments", 2) >= 500; },
          std::chrono::seconds(120), std::chrono::milliseconds(100));
  EXPECT_EQ(CommittedRecords(plaintext_, "sasl", "payments", 2), 500)
      << "weir run did not process the payments over SASL_SSL; see " << log;

  // The instance heartbeats on its membership topic every few seconds: ask until it shows
  // (its commits can be done before its first heartbeat).
  CommandResult status;
  for (const auto until = Clock::now() + std::chrono::seconds(60); Clock::now() < until;) {
    status = RunCommand(Command({WeirBinary(), "status", "--json", "--timeout", "20", "--set",
                                 "application.id=sasl"},
                                mechanism),
                        "", std::chrono::seconds(60));
    seen += status.out + status.err;
    if (status.exit_status == 0 && status.out.find("\"active\"") != std::string::npos) break;
  }
  EXPECT_EQ(status.exit_status, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("\"active\"")) << status.out;

  (*run)->Signal(SIGTERM);
  EXPECT_EQ((*run)->Wait(std::chrono::seconds(60)), 0) << test::ReadFile(log);
  seen += test::ReadFile(log);
  EXPECT_THAT(seen, Not(HasSubstr(password)));
}

TEST_F(SaslSsl, AWrongPasswordFailsWithinTheTimeoutNamingTheRefusedLogin) {
  setenv("KAFKA_PASSWORD", kWrongPassword, 1);
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{WeirBinary(), "status", "--timeout", "5"},
        std::vector<std::string>{WeirBinary(), "run", "--progress-interval", "0", "--set",
                                 "metrics.port=0", "--set",
                                 "state.dir=" + (root_ / "state").string()}}) {
    const auto start = Clock::now();
    const CommandResult result = RunCommand(Command(argv, "PLAIN"), "", std::chrono::seconds(90));
    const auto took = Clock::now() - start;
    EXPECT_EQ(result.exit_status, 1) << argv[1] << ": " << result.err;
    // status: its --timeout; run: its 10 s metadata timeout, plus process start.
    EXPECT_LT(took, std::chrono::seconds(20)) << argv[1];
    EXPECT_THAT(result.err, HasSubstr("the brokers refused this client's login")) << argv[1];
    EXPECT_THAT(result.err, HasSubstr("Invalid username or password")) << argv[1];
    EXPECT_THAT(result.out + result.err, Not(HasSubstr(kWrongPassword))) << argv[1];
  }
}

// librdkafka before 2.6.1 repeats the client nonce in SCRAM's final message, which Kafka 4.x
// refuses (librdkafka#4895): the refusal must say so. A fixed librdkafka must log in.
TEST_F(SaslSsl, ScramSha512LogsInOrTheRefusalExplainsWhy) {
  setenv("KAFKA_PASSWORD", client_["sasl.password"].c_str(), 1);
  const CommandResult status = RunCommand(
      Command({WeirBinary(), "status", "--timeout", "5", "--set", "application.id=scram"},
              "SCRAM-SHA-512"),
      "", std::chrono::seconds(60));
  if (ScramWorksHere()) {
    // Logged in: the application has no membership topic yet, which status reports (exit 2).
    EXPECT_THAT(status.err, Not(HasSubstr("refused this client's login"))) << status.err;
    return;
  }
  EXPECT_EQ(status.exit_status, 1) << status.err;
  EXPECT_THAT(status.err, HasSubstr("cannot log in with SCRAM to Kafka 4.x brokers"));
  EXPECT_THAT(status.err, HasSubstr("sasl.mechanism PLAIN over SASL_SSL"));
  EXPECT_THAT(status.out + status.err, Not(HasSubstr(client_["sasl.password"])));
}

}  // namespace
}  // namespace weir
