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

// One run of RocksDB alone: the tasks' instances, the layout's reads and writes per payment,
// the timing, and the check that every write landed.
class AloneRun {
 public:
  AloneRun(const CompareOptions& options, InProcessWorkload& workload, std::filesystem::path dir,
           AloneLayout layout)
      : options_(options),
        workload_(workload),
        dir_(std::move(dir)),
        layout_(layout),
        minute_(TimeWindows::OfSizeAndGrace(workload.fraud_config.card_1m_size_ms,
                                            workload.fraud_config.grace_ms)),
        five_minutes_(TimeWindows::OfSizeAndGrace(workload.fraud_config.card_5m_size_ms,
                                                  workload.fraud_config.grace_ms)
                          .AdvanceBy(workload.fraud_config.card_5m_advance_ms)),
        slice_ms_(fraud::SliceWidthMs(workload.fraud_config)),
        stores_(layout == AloneLayout::kSixWindows
                    ? std::vector<std::string>{"card-1m", "card-5m"}
                    : std::vector<std::string>{fraud::kCardWindowsStore}) {
    no_wal_.disableWAL = true;
  }

  // One instance per task under `dir`: the default column family (offsets) and the layout's.
  absl::Status Open() {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    if (error) {
      return absl::InternalError(absl::StrCat(dir_.string(), ": cannot create: ", error.message()));
    }
    tasks_ = std::vector<RawInstance>(static_cast<size_t>(options_.partitions));
    for (size_t t = 0; t < tasks_.size(); ++t) {
      WEIR_ASSIGN_OR_RETURN(rocksdb::Options rocksdb_options,
                            BuildRocksDbOptions(workload_.set, workload_.shared));
      rocksdb_options.create_if_missing = true;
      rocksdb_options.create_missing_column_families = true;
      std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
      descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                               rocksdb::ColumnFamilyOptions(rocksdb_options));
      for (const std::string& name : stores_) {
        descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(rocksdb_options));
      }
      const std::string path = (dir_ / absl::StrCat("0_", t)).string();
      rocksdb::DB* db = nullptr;
      WEIR_RETURN_IF_ERROR(
          RocksDbStatus(rocksdb::DB::Open(rocksdb::DBOptions(rocksdb_options), path, descriptors,
                                          &tasks_[t].families, &db),
                        absl::StrCat("opening ", path)));
      tasks_[t].db.reset(db);
    }
    return absl::OkStatus();
  }

  // Every payment in chunks of a commit's worth: generated, parsed and tokenized outside the
  // timed section, then each payment's reads and writes, then the commit's offsets.
  absl::Status Run() {
    Progress progress(layout_ == AloneLayout::kSixWindows ? "RocksDB alone, six windows"
                                                          : "RocksDB alone, one value",
                      options_.records);
    for (int64_t done = 0; done < options_.records;) {
      const int64_t n = std::min<int64_t>(options_.commit_every, options_.records - done);
      const std::vector<Access> chunk = NextChunk(n);
      const auto start = Clock::now();
      for (const Access& access : chunk) {
        RawInstance& task = tasks_[access.task];
        batch_.Clear();
        WEIR_RETURN_IF_ERROR(layout_ == AloneLayout::kSixWindows ? SixWindows(task, access.payment)
                                                                 : OneValue(task, access.payment));
        WEIR_RETURN_IF_ERROR(RocksDbStatus(task.db->Write(no_wal_, &batch_), "writing state"));
      }
      done += n;
      for (RawInstance& task : tasks_) {  // the commit: offsets, with the WAL as weir commits
        WEIR_RETURN_IF_ERROR(RocksDbStatus(
            task.db->Put({}, task.families[0], "offsets", absl::StrCat(done)), "writing offsets"));
      }
      busy_ += Clock::now() - start;
      valid_ += static_cast<int64_t>(chunk.size());
      progress.Update(done, std::chrono::duration<double>(busy_).count());
    }
    return absl::OkStatus();
  }

  // Untimed check that every payment's writes landed: the counts of the card-1m windows (the
  // first layout) or of the slices (today's) add up to the payments.
  absl::Status CheckEveryWriteLanded() {
    int64_t counted = 0;
    for (RawInstance& task : tasks_) {
      std::unique_ptr<rocksdb::Iterator> it(task.db->NewIterator({}, task.families[1]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const absl::string_view text(it->value().data(), it->value().size());
        if (layout_ == AloneLayout::kSixWindows) {
          int64_t count = 0;
          if (absl::SimpleAtoi(text.substr(0, text.find(',')), &count)) counted += count;
        } else if (fraud::DecodeCardWindows(text, card_)) {
          for (const fraud::Slice& slice : card_.slices) counted += slice.count;
        }
      }
    }
    if (counted == valid_) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("RocksDB alone counted ", counted, " payments of ",
                                            valid_, " in its ", stores_.back(), " values"));
  }

  RocksDbAloneResult Result() const {
    return {.records_per_s = static_cast<double>(options_.records) /
                             std::chrono::duration<double>(busy_).count(),
            .get_us_per_record = std::chrono::duration<double, std::micro>(gets_).count() /
                                 static_cast<double>(std::max<int64_t>(valid_, 1))};
  }

 private:
  struct Access {
    size_t task = 0;
    fraud::Payment payment;
  };

  // The next `n` payments that parse (a dead letter has no state access), with their tasks.
  std::vector<Access> NextChunk(int64_t n) {
    std::vector<Access> chunk;
    for (int64_t i = 0; i < n; ++i) {
      const fraud::GeneratedPayment p = workload_.generator.Next();
      fraud::Payment payment;
      if (!fraud::ParsePayment(p.json, workload_.tokenizer, payment).ok()) continue;
      chunk.push_back(
          {static_cast<size_t>(PartitionForKey(p.card, options_.partitions)), std::move(payment)});
    }
    return chunk;
  }

  // A timed get of key_ from `family` into value_: true when found.
  absl::StatusOr<bool> Get(RawInstance& task, rocksdb::ColumnFamilyHandle* family,
                           absl::string_view what) {
    const auto start = Clock::now();
    const rocksdb::Status found = task.db->Get({}, family, key_, &value_);
    gets_ += Clock::now() - start;
    if (!found.ok() && !found.IsNotFound()) {
      return RocksDbStatus(found, absl::StrCat("reading ", what));
    }
    return found.ok();
  }

  // The first layout's state reads and writes for one payment: six windows.
  absl::Status SixWindows(RawInstance& task, const fraud::Payment& payment) {
    for (int64_t window : minute_.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key_);  // the window stores' layout
      int64_t count = 0, sum = 0;
      WEIR_ASSIGN_OR_RETURN(const bool found, Get(task, task.families[1], "card-1m"));
      if (found) {
        std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value_, ',');
        if (!absl::SimpleAtoi(parts.first, &count) || !absl::SimpleAtoi(parts.second, &sum)) {
          return absl::DataLossError(absl::StrCat(dir_.string(), ": a card-1m value is corrupt"));
        }
      }
      batch_.Put(task.families[1], key_,
                 absl::StrCat(count + 1, ",", sum + payment.amount_cents()));
    }
    for (int64_t window : five_minutes_.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key_);
      WEIR_ASSIGN_OR_RETURN(const bool found, Get(task, task.families[2], "card-5m"));
      if (!found) {  // that layout: 3 x 8 bytes, then the two sets
        value_.assign(24 + 4 + 2 + 4 + 2, '\0');
        value_.insert(30, payment.country().data(), payment.country().size());
        value_.append(payment.merchant().data(), payment.merchant().size());
      }
      absl::string_view count_bytes(value_.data(), 8);
      uint64_t count = 0;  // the count, 8 bytes little-endian
      ConsumeLittleEndian(count_bytes, 8, &count);
      encoded_.clear();
      AppendLittleEndian(encoded_, count + 1, 8);
      value_.replace(0, 8, encoded_);
      batch_.Put(task.families[2], key_, value_);
    }
    return absl::OkStatus();
  }

  // Today's: the card's one value, with the topology's encoding.
  absl::Status OneValue(RawInstance& task, const fraud::Payment& payment) {
    key_.assign(payment.card_token().data(), payment.card_token().size());
    WEIR_ASSIGN_OR_RETURN(const bool found, Get(task, task.families[1], fraud::kCardWindowsStore));
    card_ = {};
    if (found && !fraud::DecodeCardWindows(value_, card_)) {
      return absl::DataLossError(absl::StrCat(dir_.string(), ": a card-windows value is corrupt"));
    }
    fraud::Slice& slice = card_.SliceAt(payment.ts() - payment.ts() % slice_ms_);
    ++slice.count;
    slice.sum += payment.amount_cents();
    slice.max = std::max(slice.max, payment.amount_cents());
    fraud::InsertSorted(slice.countries, payment.country());
    fraud::InsertSorted(slice.merchants, payment.merchant());
    fraud::EncodeCardWindows(card_, slice.start, encoded_);
    batch_.Put(task.families[1], key_, encoded_);
    return absl::OkStatus();
  }

  const CompareOptions& options_;
  InProcessWorkload& workload_;
  const std::filesystem::path dir_;
  const AloneLayout layout_;
  const TimeWindows minute_;
  const TimeWindows five_minutes_;
  const int64_t slice_ms_;
  const std::vector<std::string> stores_;
  std::vector<RawInstance> tasks_;
  rocksdb::WriteOptions no_wal_;
  rocksdb::WriteBatch batch_;
  std::string key_, value_, encoded_;  // reused across payments
  fraud::CardWindows card_;            // the one-value layout's, reused
  Clock::duration busy_{}, gets_{};
  int64_t valid_ = 0;  // payments that parsed
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
  AloneRun run(options, workload, dir, layout);
  WEIR_RETURN_IF_ERROR(run.Open());
  WEIR_RETURN_IF_ERROR(run.Run());
  WEIR_RETURN_IF_ERROR(run.CheckEveryWriteLanded());
  return run.Result();
}

}  // namespace weir::bench
