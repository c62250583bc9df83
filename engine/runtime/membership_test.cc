// Heartbeats on the membership topic, as every instance and `weir status` read them: any client
// can write that topic, so the parser refuses what is not a heartbeat instead of trusting it.
#include "engine/runtime/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"

namespace weir {
namespace {

using ::testing::HasSubstr;

InstanceView Heartbeat() {
  InstanceView view{.instance = "3f2a9c1d", .endpoint = "host-1:9464", .heartbeat_ms = 1'000};
  view.member_ids = {"m-1"};
  view.active.push_back({.id = {0, 3}, .thread = "t-1", .input_lag = 5});
  view.standby.push_back({.id = {0, 1}, .lag = 4, .applied = 9, .caught_up = true});
  return view;
}

TEST(InstanceView, AHeartbeatRoundTrips) {
  const std::string json = Heartbeat().ToJson();
  absl::StatusOr<InstanceView> parsed = InstanceView::FromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToJson(), json);
  EXPECT_EQ(parsed->active[0].id, (TaskId{0, 3}));
}

// Found by tests/fuzz/membership_fuzzer.cc: an integer beyond 64 bits (which the JSON parser
// reads as a double) was cast to int64_t, undefined behaviour.
TEST(InstanceView, NumbersThatAreNotInt64AreRefusedNotCast) {
  const std::string json = Heartbeat().ToJson();
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"expiry_ms\":45000", "\"expiry_ms\":450001111111111111111111111111111111"},
           {"\"expiry_ms\":45000", "\"expiry_ms\":18446744073709551615"},
           {"\"expiry_ms\":45000", "\"expiry_ms\":4.5e4"},
           {"\"input_lag\":5", "\"input_lag\":1e300"}}) {
    const std::string bad = absl::StrReplaceAll(json, {{from, to}});
    ASSERT_NE(bad, json) << from;
    absl::StatusOr<InstanceView> parsed = InstanceView::FromJson(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << to;
    EXPECT_THAT(parsed.status().message(), HasSubstr("is not a 64-bit integer")) << to;
  }
  const std::string bad_task = absl::StrReplaceAll(json, {{"\"0_3\"", "\"99999999999_3\""}});
  EXPECT_TRUE(absl::IsInvalidArgument(InstanceView::FromJson(bad_task).status()));
}

}  // namespace
}  // namespace weir
