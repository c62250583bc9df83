// The `weir` command line: help that lists what works, errors that name file, key and
// expectation, and exit codes scripts can rely on (0 ok, 1 failure, 2 bad flags or config).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using test::RunCommand;
using test::WeirBinary;

CommandResult Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary());
  return RunCommand(args, "", std::chrono::seconds(30));
}

std::string WriteConfig(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, HelpListsTheWorkingSubcommands) {
  const CommandResult help = Weir({"--help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_THAT(help.out, HasSubstr("run"));
  EXPECT_THAT(help.out, HasSubstr("replay"));
  EXPECT_THAT(help.out, HasSubstr("broker"));
  EXPECT_THAT(help.out, HasSubstr("config"));
  EXPECT_THAT(help.out, HasSubstr("Examples:"));
}

TEST(Cli, EverySubcommandHelpHasAnExample) {
  for (const std::vector<std::string>& command : {std::vector<std::string>{"run"},
                                                  {"replay"},
                                                  {"broker"},
                                                  {"config", "show"},
                                                  {"config", "docs"},
                                                  {"plan", "memory"},
                                                  {"plan", "capacity"}}) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    const CommandResult help = Weir(args);
    EXPECT_EQ(help.exit_status, 0) << command[0];
    EXPECT_THAT(help.out, HasSubstr("Example")) << command[0];
  }
}

TEST(PlanCapacity, TheSeedsWorkedExampleAndWeirsFiguresFromAMeasuredRun) {
  const std::string results = WriteConfig("capacity-results.json", R"({
    "workload": {"records": 2000000, "cards": 1000000, "mode": "in-process", "stream_threads": 1},
    "results": [{"option_set": "config/rocksdb/tuned.yaml", "records_per_s": 4000,
                 "state_bytes": 200000000}]})");
  const CommandResult plan =
      Weir({"plan", "capacity", "--peak-rate", "10000", "--record-size", "512",
            "--retention-days", "7", "--replication-factor", "3", "--consumers", "4",
            "--set", "rocksdb.options=config/rocksdb/tuned.yaml", "--results", results,
            "--cards", "3000000"});
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  for (const char* figure : {"5.12 MB/s", "442 GB/day", "1.33 TB/day", "9.29 TB", "3-4",
                             "432 GB/day, 1.3 TB/day, 9.1 TB"}) {
    EXPECT_THAT(plan.out, HasSubstr(figure));
  }
  // 10,000 x 1.5 / 4,000 per thread = 4 threads: 2 instances of 2 threads, but at least the
  // worksheet's 3; 200 B per card x 3M cards x 2 copies / 3 instances = 400 MB.
  EXPECT_THAT(plan.out, HasSubstr("stream threads needed"));
  EXPECT_THAT(plan.out, ::testing::ContainsRegex("instances +threads needed / 2 per instance "
                                               "\\(2\\), at least the worksheet's 3 +3"));
  EXPECT_THAT(plan.out, ::testing::ContainsRegex("state disk per instance .* 381.5 MiB"));
  EXPECT_THAT(plan.out, HasSubstr("memory per instance"));

  const CommandResult bad = Weir({"plan", "capacity", "--peak-rate", "10000"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_THAT(bad.out + bad.err, HasSubstr("--record-size"));
}

TEST(Cli, NoSubcommandIsAUsageError) {
  const CommandResult result = Weir({});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.out + result.err, HasSubstr("subcommand"));
}

// Every usage error exits 2 (CLI11's own codes, 105-109, are not passed on) with one line that
// names the command and points at its --help.
TEST(Cli, EveryUsageErrorExitsTwoWithOneLineAndAPointerToHelp) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"nosuch"}, "weir: unknown command 'nosuch'"},
           {{"run", "--bogus"}, "weir run: The following argument was not expected: --bogus"},
           {{"bench", "compare", "--records"}, "weir bench compare: --records"},
           {{"loadgen", "--records", "abc"},
            "weir loadgen: --records: expected a positive number, got 'abc'"},
           {{"loadgen", "--fraud-fraction", "2"},
            "weir loadgen: --fraud-fraction: expected a number in [0, 0.5], got '2'"},
           {{"replay", "--partitions", "0"},
            "weir replay: --partitions: expected a number in [1, 1000], got '0'"}}) {
    const CommandResult result = Weir(c.args);
    const std::string what = c.args[0] + (c.args.size() > 1 ? " " + c.args[1] : "");
    EXPECT_EQ(result.exit_status, 2) << what << ": " << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.says)) << what;
    EXPECT_THAT(result.err, HasSubstr("--help')\n")) << what;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_LT(result.err.size(), 200u) << result.err;
  }
}

TEST(Cli, BadConfigNamesFileKeyAndExpectation) {
  const std::string path =
      WriteConfig("cli_bad.yaml", "application.id: a\nnum.stream.threads: -4\n");
  const CommandResult result = Weir({"config", "show", "--config", path});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, HasSubstr(path + ":2: key 'num.stream.threads': expected an integer "
                                           "in [0, 256], got '-4'"));
}

TEST(Cli, ConfigShowPrintsEffectiveValuesAndTheirOrigin) {
  const CommandResult result =
      Weir({"config", "show", "--config", "config/weir.yaml", "--set", "num.stream.threads=4"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("application.id: fraud-detection  # config/weir.yaml:"));
  EXPECT_THAT(result.out, HasSubstr("num.stream.threads: 4  # --set num.stream.threads=4"));
  EXPECT_THAT(result.out, HasSubstr("metrics.port: 9464"));
}

TEST(Cli, BrokerRejectsAMalformedTopicBeforeStarting) {
  const CommandResult result = Weir({"broker", "--topic", "payments"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, HasSubstr("--topic: expected NAME:PARTITIONS"));
  EXPECT_THAT(result.out, Not(HasSubstr("127.0.0.1")));
}

TEST(Cli, BrokerReportsAMissingConfigFile) {
  const CommandResult result = Weir({"broker", "--config", "no/such.yaml"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, HasSubstr("no/such.yaml: cannot read the config file"));
}

// To a file there is nothing to wait for: loadgen writes as fast as it can (it used to pace a
// file at 1,000 records/s) and prints no send latencies.
TEST(Loadgen, ToAFileWritesAsFastAsItCanWithoutSendLatencies) {
  const std::string path = ::testing::TempDir() + "/loadgen-fast.jsonl";
  const auto start = std::chrono::steady_clock::now();
  const CommandResult result =
      Weir({"loadgen", "--records", "20000", "--output", path, "--progress-interval", "0.001"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(result.err, Not(HasSubstr("latency")));
  EXPECT_THAT(result.err, HasSubstr("20000 records written"));
  std::ifstream in(path);
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(in), {}, '\n'), 20000);
}

}  // namespace
}  // namespace weir
