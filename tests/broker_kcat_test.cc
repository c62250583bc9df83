// `weir broker` as a separate process, driven by a real external Kafka client (kcat).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::RunCommand;
using test::Subprocess;
using test::WeirBinary;

constexpr int kRecords = 10'000;
constexpr int kKeys = 97;
constexpr int kPartitions = 4;

TEST(BrokerWithKcat, RoundTripsTenThousandKeyedRecordsInPartitionOrder) {
  const std::string log = ::testing::TempDir() + "/broker_kcat_test.log";
  absl::StatusOr<std::unique_ptr<Subprocess>> broker =
      Subprocess::Start({WeirBinary(), "broker", "--brokers", "3", "--topic",
                         absl::StrCat("roundtrip:", kPartitions), "--progress-interval", "0"},
                        log);
  ASSERT_TRUE(broker.ok()) << broker.status();
  // The first stdout line is the bootstrap servers, printed once the topics exist.
  std::optional<std::string> bootstrap = (*broker)->ReadLine(std::chrono::seconds(30));
  ASSERT_TRUE(bootstrap.has_value()) << "weir broker printed no bootstrap servers; see " << log;
  ASSERT_THAT(*bootstrap, ::testing::StartsWith("127.0.0.1:"));

  // Record i has key "card-<i mod 97>" and value "<i>".
  std::string input;
  for (int i = 0; i < kRecords; ++i) absl::StrAppend(&input, "card-", i % kKeys, ":", i, "\n");
  const test::CommandResult produced =
      RunCommand({"kcat", "-b", *bootstrap, "-t", "roundtrip", "-P", "-K:", "-X", "acks=all"},
                 input, std::chrono::seconds(60));
  ASSERT_EQ(produced.exit_status, 0) << produced.err;

  const test::CommandResult consumed =
      RunCommand({"kcat", "-b", *bootstrap, "-t", "roundtrip", "-C", "-o", "beginning", "-e", "-q",
                  "-f", "%p %k %s\\n"},
                 "", std::chrono::seconds(60));
  ASSERT_EQ(consumed.exit_status, 0) << consumed.err;

  std::set<int> seen;
  std::map<int, int> last_value_in_partition;
  std::map<std::string, int> partition_of_key;
  for (absl::string_view line : absl::StrSplit(consumed.out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    ASSERT_EQ(fields.size(), 3u) << line;
    int partition = 0;
    int value = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields[0], &partition)) << line;
    ASSERT_TRUE(absl::SimpleAtoi(fields[2], &value)) << line;
    EXPECT_EQ(fields[1], absl::StrCat("card-", value % kKeys)) << "key and value mismatch";
    EXPECT_TRUE(seen.insert(value).second) << "record " << value << " arrived twice";
    // Within a partition, records come back in the order they were produced.
    auto last = last_value_in_partition.find(partition);
    if (last != last_value_in_partition.end()) {
      EXPECT_LT(last->second, value) << "partition " << partition << " out of order";
    }
    last_value_in_partition[partition] = value;
    // One key always lands in one partition.
    auto [it, inserted] = partition_of_key.emplace(fields[1], partition);
    EXPECT_EQ(it->second, partition) << "key " << fields[1] << " in two partitions";
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(last_value_in_partition.size(), static_cast<size_t>(kPartitions))
      << "97 keys should spread over all 4 partitions";

  (*broker)->Signal(SIGTERM);
  EXPECT_EQ((*broker)->Wait(std::chrono::seconds(30)), 0) << "weir broker must exit 0 on SIGTERM";
}

TEST(BrokerWithKcat, WritesAndRemovesTheBootstrapFile) {
  const std::string file = ::testing::TempDir() + "/weir-bootstrap-test";
  absl::StatusOr<std::unique_ptr<Subprocess>> broker =
      Subprocess::Start({WeirBinary(), "broker", "--brokers", "1", "--bootstrap-file", file,
                         "--progress-interval", "0"},
                        ::testing::TempDir() + "/broker_file_test.log");
  ASSERT_TRUE(broker.ok()) << broker.status();
  std::optional<std::string> bootstrap = (*broker)->ReadLine(std::chrono::seconds(30));
  ASSERT_TRUE(bootstrap.has_value());
  // The file is written before the line is printed.
  const test::CommandResult cat = RunCommand({"cat", file}, "", std::chrono::seconds(5));
  EXPECT_EQ(cat.out, *bootstrap + "\n");
  (*broker)->Signal(SIGINT);
  EXPECT_EQ((*broker)->Wait(std::chrono::seconds(30)), 0);
  EXPECT_FALSE(std::filesystem::exists(file)) << "the bootstrap file must be removed on exit";
}

}  // namespace
}  // namespace weir
