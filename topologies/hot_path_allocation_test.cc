// The fraud topology allocates nothing per payment in steady state (a payment of a card it has
// seen, raising no alert): this binary counts every operator new and compares the fraud
// topology with a topology that does nothing, both fed the same records through the test
// driver, so that what the driver itself allocates cancels out. Only the test's own thread is
// counted: RocksDB's background threads (its periodic info-log flush and statistics tasks, a
// memtable flush) allocate on their own schedule, and counting them made the test fail at random
// on a busy machine (80 extra over 2,000 payments in one CI run).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/runtime/test_driver.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment.h"

namespace {

// Operator news on this thread; other threads' are not counted.
thread_local int64_t allocations = 0;

void* Allocate(size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(size_t size) { return Allocate(size); }
void* operator new[](size_t size) { return Allocate(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace weir::fraud {
namespace {

constexpr int kCards = 50;

// Payment i: card i % 50, one a second, so each card pays every 50 s - never five in a minute,
// never 5000.00 in five minutes, always from one country: no rule fires, no window is late.
RawRecord PaymentRecord(int i) {
  const std::string card = absl::StrCat(4'000'000'000'000'000LL + i % kCards);
  return {.key = card,
          .value = absl::StrCat(R"({"txn_id":")", absl::StrFormat("txn-%08d", i),
                                R"(","card":")", card,
                                R"(","amount":12.34,"currency":"EUR","merchant":"m-)", i % 7,
                                R"(","country":"DE","ts":)", 1'732'269'900'000 + 1'000LL * i,
                                "}")};
}

// A source that views its record's bytes and a processor that does nothing: what the test
// driver allocates per record, and no more.
class ViewSerde : public Serde<absl::string_view> {
 public:
  std::string Serialize(const absl::string_view& value) const override {
    return std::string(value);
  }
  absl::StatusOr<absl::string_view> Deserialize(absl::string_view bytes) const override {
    return bytes;
  }
};

class Nothing : public Processor<absl::string_view, absl::string_view, std::string, std::string> {
 public:
  void Process(const Record<absl::string_view, absl::string_view>&) override {}
};

Topology Baseline(const std::string& topic) {
  Topology topology;
  topology
      .AddSource<absl::string_view, absl::string_view>(
          "payments", {topic}, std::make_shared<ViewSerde>(), std::make_shared<ViewSerde>())
      .AddProcessor<absl::string_view, absl::string_view, std::string, std::string>(
          "nothing", [] { return std::make_unique<Nothing>(); }, {"payments"});
  return topology;
}

// Operator news while `driver` takes payments [from, to), the records made beforehand.
int64_t AllocationsPiping(TopologyTestDriver& driver, const std::string& topic, int from,
                          int to) {
  std::vector<RawRecord> records;
  for (int i = from; i < to; ++i) records.push_back(PaymentRecord(i));
  const int64_t before = allocations;
  for (RawRecord& record : records) {
    EXPECT_TRUE(driver.PipeRaw(topic, std::move(record)).ok());
  }
  return allocations - before;
}

TEST(HotPath, TheFraudTopologyAllocatesNothingPerPaymentInSteadyState) {
  const FraudConfig config;
  TopologyTestDriver fraud(BuildFraudTopology(config, CardTokenizer("alloc-key")),
                           {.application_id = "alloc"});
  TopologyTestDriver baseline(Baseline(config.payments_topic), {.application_id = "baseline"});
  // Warm up: every card seen (token cached, value stored), buffers grown, slices in place.
  for (TopologyTestDriver* driver : {&fraud, &baseline}) {
    AllocationsPiping(*driver, config.payments_topic, 0, 20 * kCards);
  }
  // The fewest allocations of three windows of 2,000 payments each, for either driver: a
  // one-off growth somewhere in a window (it showed 1 run in 6, 80 allocations) is not a
  // per-payment cost; one every window would be.
  int64_t topology = std::numeric_limits<int64_t>::max();
  int64_t driver = std::numeric_limits<int64_t>::max();
  int from = 20 * kCards, to = from;
  for (int window = 0; window < 3; ++window, from = to) {
    to = from + 2'000;
    topology = std::min(topology, AllocationsPiping(fraud, config.payments_topic, from, to));
    driver = std::min(driver, AllocationsPiping(baseline, config.payments_topic, from, to));
  }
  EXPECT_TRUE(fraud.ReadOutput(config.alerts_topic).empty()) << "the payments raise no alert";
  EXPECT_TRUE(fraud.ReadOutput(config.dlq_topic).empty()) << "the payments are valid";
  EXPECT_GT(driver, 0) << "the count sees the driver's own allocations";
  EXPECT_EQ(topology - driver, 0) << "allocations by the fraud topology over " << to - from
                                  << " payments (the driver's own: " << driver << ")";
}

}  // namespace
}  // namespace weir::fraud
