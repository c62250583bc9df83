#include "bench/rocksdb_alone.h"

#include <rocksdb/db.h>

#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/compare_workload.h"
#include "common/byte_order.h"
#include "common/status.h"
#include "engine/dsl/windows.h"
#include "engine/kafka/partitioner.h"
#include "stores/rocksdb_option_set.h"
#include "stores/rocksdb_status.h"
#include "stores/task_db.h"
#include "stores/window_key.h"
#include "topologies/fraud_aggregates.h"
#include "topologies/fraud_config.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A task's RocksDB instance in the RocksDB-alone baselines: column families default (offsets)
// and the layout's stores. Handles are released before the instance closes, as RocksDB requires.
struct RawInstance {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  ~RawInstance() {
    for (rocksdb::ColumnFamilyHandle* family : families) db->DestroyColumnFamilyHandle(family);
  }
};

}  // namespace

// RocksDB alone on the workload: the same payments, and per payment the state reads and writes
// of `layout`, with values of the topology's sizes, straight on rocksdb::DB with the set's
// options: one instance per task, a column family per store, each payment's puts in one
// WriteBatch without the WAL (Kafka Streams' uncached write path), the offsets written at each
// commit. No record cache, pending writes, changelog or topology; parsing and tokenizing happen
// outside the timed section. The gets are what any engine must do when the state outgrows its
// record cache; the puts an engine may collapse (weir's pending writes do).
absl::StatusOr<RocksDbAloneResult> RunRocksDbAlone(const CompareOptions& options,
                                                   const std::string& set_path,
                                                   const std::filesystem::path& dir,
                                                   AloneLayout layout) {
  WEIR_ASSIGN_OR_RETURN(InProcessWorkload workload, LoadInProcessWorkload(options, set_path));
  const fraud::FraudConfig& fraud_config = workload.fraud_config;
  const TimeWindows minute =
      TimeWindows::OfSizeAndGrace(fraud_config.card_1m_size_ms, fraud_config.grace_ms);
  const TimeWindows five_minutes =
      TimeWindows::OfSizeAndGrace(fraud_config.card_5m_size_ms, fraud_config.grace_ms)
          .AdvanceBy(fraud_config.card_5m_advance_ms);
  const int64_t slice_ms = fraud::SliceWidthMs(fraud_config);
  const std::vector<std::string> stores =
      layout == AloneLayout::kSixWindows
          ? std::vector<std::string>{"card-1m", "card-5m"}
          : std::vector<std::string>{fraud::kCardWindowsStore};

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(dir.string(), ": cannot create: ", error.message()));
  }
  std::vector<RawInstance> tasks(static_cast<size_t>(options.partitions));
  for (size_t t = 0; t < tasks.size(); ++t) {
    WEIR_ASSIGN_OR_RETURN(rocksdb::Options rocksdb_options,
                          BuildRocksDbOptions(workload.set, workload.shared));
    rocksdb_options.create_if_missing = true;
    rocksdb_options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                             rocksdb::ColumnFamilyOptions(rocksdb_options));
    for (const std::string& name : stores) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(rocksdb_options));
    }
    const std::string path = (dir / absl::StrCat("0_", t)).string();
    rocksdb::DB* db = nullptr;
    WEIR_RETURN_IF_ERROR(RocksDbStatus(rocksdb::DB::Open(rocksdb::DBOptions(rocksdb_options), path,
                                                         descriptors, &tasks[t].families, &db),
                                       absl::StrCat("opening ", path)));
    tasks[t].db.reset(db);
  }

  struct Access {
    size_t task = 0;
    fraud::Payment payment;
  };
  std::vector<Access> chunk;
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  rocksdb::WriteBatch batch;
  std::string key, value, encoded;
  fraud::CardWindows card;  // the one-value layout's, reused
  Clock::duration busy{}, gets{};
  // A timed get of `key` from `family` into `value`: true when found.
  const auto get = [&](RawInstance& task, rocksdb::ColumnFamilyHandle* family,
                       absl::string_view what) -> absl::StatusOr<bool> {
    const auto get_start = Clock::now();
    const rocksdb::Status found = task.db->Get({}, family, key, &value);
    gets += Clock::now() - get_start;
    if (!found.ok() && !found.IsNotFound()) {
      return RocksDbStatus(found, absl::StrCat("reading ", what));
    }
    return found.ok();
  };
  // The first layout's state reads and writes for one payment.
  const auto six_windows = [&](RawInstance& task, const fraud::Payment& payment) -> absl::Status {
    for (int64_t window : minute.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key);  // the window stores' layout
      int64_t count = 0, sum = 0;
      WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[1], "card-1m"));
      if (found) {
        std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ',');
        if (!absl::SimpleAtoi(parts.first, &count) || !absl::SimpleAtoi(parts.second, &sum)) {
          return absl::DataLossError(absl::StrCat(dir.string(), ": a card-1m value is corrupt"));
        }
      }
      batch.Put(task.families[1], key, absl::StrCat(count + 1, ",", sum + payment.amount_cents()));
    }
    for (int64_t window : five_minutes.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key);
      WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[2], "card-5m"));
      if (!found) {  // that layout: 3 x 8 bytes, then the two sets
        value.assign(24 + 4 + 2 + 4 + 2, '\0');
        value.insert(30, payment.country().data(), payment.country().size());
        value.append(payment.merchant().data(), payment.merchant().size());
      }
      absl::string_view count_bytes(value.data(), 8);
      uint64_t count = 0;  // the count, 8 bytes little-endian
      ConsumeLittleEndian(count_bytes, 8, &count);
      encoded.clear();
      AppendLittleEndian(encoded, count + 1, 8);
      value.replace(0, 8, encoded);
      batch.Put(task.families[2], key, value);
    }
    return absl::OkStatus();
  };
  // Today's: the card's value, with the topology's encoding.
  const auto one_value = [&](RawInstance& task, const fraud::Payment& payment) -> absl::Status {
    key.assign(payment.card_token().data(), payment.card_token().size());
    WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[1], fraud::kCardWindowsStore));
    card = {};
    if (found && !fraud::DecodeCardWindows(value, card)) {
      return absl::DataLossError(absl::StrCat(dir.string(), ": a card-windows value is corrupt"));
    }
    fraud::Slice& slice = card.SliceAt(payment.ts() - payment.ts() % slice_ms);
    ++slice.count;
    slice.sum += payment.amount_cents();
    slice.max = std::max(slice.max, payment.amount_cents());
    fraud::InsertSorted(slice.countries, payment.country());
    fraud::InsertSorted(slice.merchants, payment.merchant());
    fraud::EncodeCardWindows(card, slice.start, encoded);
    batch.Put(task.families[1], key, encoded);
    return absl::OkStatus();
  };

  Progress progress(layout == AloneLayout::kSixWindows ? "RocksDB alone, six windows"
                                                       : "RocksDB alone, one value",
                    options.records);
  int64_t valid = 0;  // payments that parsed
  for (int64_t done = 0; done < options.records;) {
    chunk.clear();  // generate, parse and tokenize outside the timed section
    const int64_t n = std::min<int64_t>(options.commit_every, options.records - done);
    for (int64_t i = 0; i < n; ++i) {
      const fraud::GeneratedPayment p = workload.generator.Next();
      fraud::Payment payment;
      if (!fraud::ParsePayment(p.json, workload.tokenizer, payment).ok()) {
        continue;  // a dead letter: no state access
      }
      chunk.push_back(
          {static_cast<size_t>(PartitionForKey(p.card, options.partitions)), std::move(payment)});
    }
    const auto start = Clock::now();
    for (const Access& access : chunk) {
      RawInstance& task = tasks[access.task];
      batch.Clear();
      WEIR_RETURN_IF_ERROR(layout == AloneLayout::kSixWindows ? six_windows(task, access.payment)
                                                              : one_value(task, access.payment));
      WEIR_RETURN_IF_ERROR(RocksDbStatus(task.db->Write(no_wal, &batch), "writing state"));
    }
    done += n;
    for (RawInstance& task : tasks) {  // the commit: offsets, with the WAL as weir commits
      WEIR_RETURN_IF_ERROR(RocksDbStatus(
          task.db->Put({}, task.families[0], "offsets", absl::StrCat(done)), "writing offsets"));
    }
    busy += Clock::now() - start;
    valid += static_cast<int64_t>(chunk.size());
    progress.Update(done, std::chrono::duration<double>(busy).count());
  }
  // Untimed check that every payment's writes landed: the counts of the card-1m windows (the
  // first layout) or of the slices (today's) add up to the payments.
  int64_t counted = 0;
  for (RawInstance& task : tasks) {
    std::unique_ptr<rocksdb::Iterator> it(task.db->NewIterator({}, task.families[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view text(it->value().data(), it->value().size());
      if (layout == AloneLayout::kSixWindows) {
        int64_t count = 0;
        if (absl::SimpleAtoi(text.substr(0, text.find(',')), &count)) counted += count;
      } else if (fraud::DecodeCardWindows(text, card)) {
        for (const fraud::Slice& slice : card.slices) counted += slice.count;
      }
    }
  }
  if (counted != valid) {
    return absl::InternalError(absl::StrCat("RocksDB alone counted ", counted, " payments of ",
                                            valid, " in its ", stores.back(), " values"));
  }
  return RocksDbAloneResult{
      .records_per_s =
          static_cast<double>(options.records) / std::chrono::duration<double>(busy).count(),
      .get_us_per_record = std::chrono::duration<double, std::micro>(gets).count() /
                           static_cast<double>(std::max<int64_t>(valid, 1))};
}


}  // namespace weir::bench
