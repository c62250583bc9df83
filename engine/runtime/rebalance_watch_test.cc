#include "engine/runtime/rebalance_watch.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

class RebalanceWatchTest : public ::testing::Test {
 protected:
  int64_t now_ms_ = 1'000;
  RebalanceWatch watch_{"thread", /*max_pending_ms=*/60'000, [this] { return now_ms_; }};
};

TEST_F(RebalanceWatchTest, CommitsFlowWhenNoJoinIsPending) {
  EXPECT_FALSE(watch_.HoldsCommits());
}

TEST_F(RebalanceWatchTest, AJoinHoldsCommitsUntilTheAssignment) {
  watch_.OnJoinGroupSent();
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

// librdkafka's cooperative protocol: SyncGroup -> revoke -> assign (the newly added, maybe none)
// -> JoinGroup -> SyncGroup -> assign. Commits wait from the revocation to the second assignment.
TEST_F(RebalanceWatchTest, ACooperativeRevocationHoldsCommitsThroughTheRejoin) {
  watch_.OnJoinGroupSent();
  watch_.OnRevoke(/*cooperative=*/true);
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.BeforeAssign();  // the assign after revoke: the rejoin follows it
  watch_.AfterAssign();
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.OnJoinGroupSent();
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

// The rejoin can leave while the assign-after-revoke callback is still running.
TEST_F(RebalanceWatchTest, ARejoinDuringTheAssignAfterRevokeStillHolds) {
  watch_.OnRevoke(/*cooperative=*/true);
  watch_.BeforeAssign();
  watch_.OnJoinGroupSent();
  watch_.AfterAssign();
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

// A lost assignment is revoked whole and rejoins before the next assignment, which ends it.
TEST_F(RebalanceWatchTest, ALostCooperativeAssignmentEndsAtTheNextAssignment) {
  watch_.OnRevoke(/*cooperative=*/true);
  watch_.OnJoinGroupSent();
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

// librdkafka may send the eager protocol's JoinGroup before its revocation callback returns.
TEST_F(RebalanceWatchTest, AnEagerRevocationEndsAtTheNextAssignment) {
  watch_.OnJoinGroupSent();
  watch_.OnRevoke(/*cooperative=*/false);
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

TEST_F(RebalanceWatchTest, ANewJoinDuringAnAssignmentKeepsHolding) {
  watch_.OnJoinGroupSent();
  watch_.BeforeAssign();
  watch_.OnJoinGroupSent();  // another rebalance began meanwhile
  watch_.AfterAssign();
  EXPECT_TRUE(watch_.HoldsCommits());
}

TEST_F(RebalanceWatchTest, ARejectedCommitHoldsTheNextUntilTheAssignment) {
  watch_.OnCommitRejected();
  EXPECT_TRUE(watch_.HoldsCommits());
  watch_.OnJoinGroupSent();
  watch_.BeforeAssign();
  watch_.AfterAssign();
  EXPECT_FALSE(watch_.HoldsCommits());
}

TEST_F(RebalanceWatchTest, AJoinThatNeverCompletesStopsHoldingAfterTheMaximum) {
  watch_.OnJoinGroupSent();
  now_ms_ += 59'999;
  EXPECT_TRUE(watch_.HoldsCommits());
  now_ms_ += 1;
  EXPECT_FALSE(watch_.HoldsCommits());
}

}  // namespace
}  // namespace weir
