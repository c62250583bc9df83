#include "cli/capacity_plan.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace weir {
namespace {

absl::Status Positive(double value, const char* what) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " must be positive (got ", value, ")"));
}

int64_t CeilAtLeastOne(double value) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(value - 1e-9)));
}

}  // namespace

std::string Grouped(double value) {
  const std::string digits = absl::StrFormat("%.0f", std::fabs(value));
  std::string grouped = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string ThreeDigits(double value) {
  if (value == 0) return "0";
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  const int decimals = std::max(0, 2 - magnitude);
  std::string text = absl::StrFormat("%.*f", decimals, value);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

absl::StatusOr<MeasuredRun> ReadMeasuredRun(const std::string& path, const std::string& text,
                                            const std::string& option_set) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", why,
        " (expected the results.json of `weir bench compare` or `weir bench kstreams`)"));
  };
  if (!json.is_object()) return bad("not a JSON object");
  const auto number = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
  };
  MeasuredRun run;
  if (json.contains("results") && json.contains("workload")) {  // bench compare
    const nlohmann::json& results = json["results"];
    if (!results.is_array() || results.empty()) return bad("no results");
    const nlohmann::json* chosen = &results[0];
    for (const nlohmann::json& r : results) {
      if (!option_set.empty() && r.value("option_set", "") == option_set) chosen = &r;
    }
    const nlohmann::json& workload = json["workload"];
    const double threads = std::max(1.0, number(workload, "stream_threads"));
    const double cards = number(workload, "cards");
    run.records_per_s_per_thread = number(*chosen, "records_per_s") / threads;
    run.state_bytes_per_card = cards > 0 ? number(*chosen, "state_bytes") / cards : 0;
    run.source = absl::StrCat(path, ": bench compare (", workload.value("mode", "?"), "), ",
                              chosen->value("option_set", "?"));
  } else if (json.contains("runs") && json["runs"].is_array()) {  // bench kstreams
    const nlohmann::json* weir = nullptr;
    for (const nlohmann::json& r : json["runs"]) {
      if (r.value("system", "") == "weir") weir = &r;
    }
    if (weir == nullptr) return bad("no run of weir");
    const double cards = number(json, "cards");
    run.records_per_s_per_thread = number(*weir, "records_per_s_per_thread");
    run.state_bytes_per_card = cards > 0 ? number(*weir, "state_bytes") / cards : 0;
    run.source = absl::StrCat(path, ": bench kstreams, weir's run");
  } else {
    return bad("neither `results` nor `runs`");
  }
  if (!(run.records_per_s_per_thread > 0)) return bad("no positive records_per_s");
  return run;
}

absl::StatusOr<CapacityPlan> PlanCapacity(const CapacityInputs& in,
                                          const std::optional<MeasuredRun>& measured) {
  for (const auto& [value, what] :
       {std::pair{in.peak_records_per_s, "--peak-rate"},
        std::pair{in.record_bytes, "--record-size"},
        std::pair{in.retention_days, "--retention-days"},
        std::pair{static_cast<double>(in.replication_factor), "--replication-factor"},
        std::pair{static_cast<double>(in.consumers), "--consumers"},
        std::pair{in.partition_mb_per_s, "--partition-mb-per-s"},
        std::pair{in.headroom, "--headroom"}}) {
    if (absl::Status ok = Positive(value, what); !ok.ok()) return ok;
  }
  CapacityPlan plan;
  plan.ingress_mb_per_s = in.peak_records_per_s * in.record_bytes / 1e6;
  plan.storage_gb_per_day = plan.ingress_mb_per_s * 86'400 / 1e3;
  plan.replicated_tb_per_day = plan.storage_gb_per_day * in.replication_factor / 1e3;
  plan.retained_tb = plan.replicated_tb_per_day * in.retention_days;
  plan.partitions_for_throughput = CeilAtLeastOne(plan.ingress_mb_per_s / in.partition_mb_per_s);
  plan.partitions_for_parallelism = in.consumers;
  plan.partitions = CeilAtLeastOne(
      static_cast<double>(std::max(plan.partitions_for_throughput, in.consumers)) * in.headroom);
  plan.instances_low = CeilAtLeastOne(plan.partitions / 2.0);
  plan.instances_high =
      std::max(plan.instances_low, static_cast<int64_t>(std::floor(plan.partitions / 1.5)));
  const std::string mb = ThreeDigits(plan.ingress_mb_per_s);
  plan.kafka = {
      {"ingress", absl::StrCat(Grouped(in.peak_records_per_s), " records/s x ",
                               Grouped(in.record_bytes), " B"),
       absl::StrCat(mb, " MB/s")},
      {"storage per day", absl::StrCat(mb, " MB/s x 86,400 s"),
       absl::StrCat(ThreeDigits(plan.storage_gb_per_day), " GB/day")},
      {"with replication", absl::StrCat("x ", in.replication_factor),
       absl::StrCat(ThreeDigits(plan.replicated_tb_per_day), " TB/day")},
      {"for the retention", absl::StrCat("x ", ThreeDigits(in.retention_days), " days"),
       absl::StrCat(ThreeDigits(plan.retained_tb), " TB")},
      {"partitions for throughput",
       absl::StrCat(mb, " MB/s / ", ThreeDigits(in.partition_mb_per_s),
                    " MB/s per partition, rounded up"),
       absl::StrCat(plan.partitions_for_throughput)},
      {"partitions for parallelism", "the most consumers in one group",
       absl::StrCat(plan.partitions_for_parallelism)},
      {"partitions",
       absl::StrCat("the larger x ", ThreeDigits(in.headroom), " headroom, rounded up"),
       absl::StrCat(plan.partitions)},
      {"instances", absl::StrCat(plan.partitions, " partitions at 1.5-2 per instance"),
       plan.instances_low == plan.instances_high
           ? absl::StrCat(plan.instances_low)
           : absl::StrCat(plan.instances_low, "-", plan.instances_high)}};
  // The worksheet's own chain: ingress rounded to whole MB/s, each later figure to two digits.
  const double rounded_mb = std::round(plan.ingress_mb_per_s);
  if (rounded_mb != plan.ingress_mb_per_s && rounded_mb > 0) {
    const double gb = rounded_mb * 86'400 / 1e3;
    const double tb = std::round(gb * in.replication_factor / 100) / 10;
    plan.rounded_chain = absl::StrCat(
        "The worksheet rounds the ingress to ", ThreeDigits(rounded_mb), " MB/s first: ",
        ThreeDigits(gb), " GB/day, ", ThreeDigits(tb), " TB/day, ",
        ThreeDigits(tb * in.retention_days), " TB; this plan keeps every digit.");
  }
  if (measured.has_value()) {
    plan.threads_needed =
        CeilAtLeastOne(in.peak_records_per_s * in.headroom / measured->records_per_s_per_thread);
  }
  return plan;
}

}  // namespace weir
