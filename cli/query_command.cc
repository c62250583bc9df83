// `weir query`: a card's live windows from a running instance (POST /state/<store>/windows,
// docs/queries.md), as a table or as the instance's JSON.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "common/http_client.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"
#include "nlohmann/json.hpp"
#include "topologies/fraud_topology.h"

namespace weir::cli {
namespace {

struct QueryFlags {
  ConfigFlags config;
  std::string card;
  std::string token;
  std::string store = "card-5m";
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  bool allow_stale = false;
  std::string server;
  bool json = false;
  double timeout_s = 15;
};

std::string Time(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string Amount(const nlohmann::json& value) {
  return value.is_number() ? absl::StrFormat("%.2f", value.get<double>()) : "-";
}

// The first few of `values`, and how many there are when that is not all (--json has them all).
std::string List(const nlohmann::json& values) {
  constexpr size_t kShown = 4;
  if (!values.is_array() || values.empty()) return "-";
  std::vector<std::string> out;
  for (const nlohmann::json& v : values) {
    if (out.size() == kShown) break;
    out.push_back(v.get<std::string>());
  }
  return values.size() <= kShown
             ? absl::StrJoin(out, ",")
             : absl::StrCat(values.size(), ": ", absl::StrJoin(out, ","), ",...");
}

void PrintTable(const nlohmann::json& answer) {
  std::printf("%s%s in %s: task %s, answered by %s%s\n",
              answer.contains("card")
                  ? absl::StrCat("card ", answer["card"].get<std::string>(), " ").c_str()
                  : "",
              absl::StrCat("token ", answer.value("token", "?")).c_str(),
              answer.value("store", "?").c_str(), answer.value("task", "?").c_str(),
              answer.value("served_by", "?").c_str(),
              answer.value("stale", false)
                  ? absl::StrCat(" (a standby, ", answer.value("lag", int64_t{0}),
                                 " changelog records behind)")
                        .c_str()
                  : "");
  if (answer.contains("windows")) {
    if (answer["windows"].empty()) {
      std::printf("no windows: the card has no payment in this store's retained windows\n");
      return;
    }
    std::printf("%-23s  %-23s  %6s  %10s  %10s  %-12s  %s\n", "WINDOW START (UTC)", "END",
                "COUNT", "SUM", "MAX", "COUNTRIES", "MERCHANTS");
    for (const nlohmann::json& w : answer["windows"]) {
      std::printf("%-23s  %-23s  %6lld  %10s  %10s  %-12s  %s\n",
                  Time(w.value("start", int64_t{0})).c_str(),
                  Time(w.value("end", int64_t{0})).c_str(),
                  static_cast<long long>(w.value("count", int64_t{0})), Amount(w["sum"]).c_str(),
                  Amount(w["max"]).c_str(), List(w.value("countries", nlohmann::json())).c_str(),
                  List(w.value("merchants", nlohmann::json())).c_str());
    }
  } else {
    std::printf("%s\n", answer.dump(2).c_str());
  }
}

absl::Status Query(QueryFlags flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  if (flags.card.empty() == flags.token.empty()) {
    return absl::InvalidArgumentError("give one of --card and --token");
  }
  if (flags.card == "-") {
    std::getline(std::cin, flags.card);
    if (flags.card.empty()) return absl::InvalidArgumentError("--card -: stdin held no card");
  }
  nlohmann::json body = nlohmann::json::object();
  if (!flags.card.empty()) {
    body["card"] = flags.card;
  } else {
    body["token"] = flags.token;
  }
  if (flags.from) body["from"] = *flags.from;
  if (flags.to) body["to"] = *flags.to;
  if (flags.allow_stale) body["allow_stale"] = true;
  const std::string server =
      !flags.server.empty()               ? flags.server
      : !config.application_server.empty() ? config.application_server
                                          : absl::StrCat("127.0.0.1:", config.metrics_port);
  WEIR_ASSIGN_OR_RETURN(const std::string base_url, ServerUrl(server));
  const std::string kind = flags.store == fraud::kCardWindowsStore ? "key" : "windows";
  HttpCall call{.url = absl::StrCat(base_url, "/state/", flags.store, "/", kind),
                .body = body.dump(),
                .headers = {"Content-Type: application/json"},
                .timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000))};
  WEIR_ASSIGN_OR_RETURN(const std::string token, HttpAuthToken(config));
  if (!token.empty()) call.headers.push_back(absl::StrCat("Authorization: Bearer ", token));
  const HttpResponse response = HttpSend(call);
  if (response.status == 0) {
    return absl::UnavailableError(absl::StrCat("cannot reach weir at ", server, ": ",
                                               response.error, " (--server HOST:PORT or URL)"));
  }
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
  const std::string error =
      answer.is_object() && answer.contains("error") ? answer["error"].get<std::string>()
                                                     : response.body;
  switch (response.status) {
    case 200:
      break;
    case 401:
      return absl::InvalidArgumentError(absl::StrCat(
          server, " needs its bearer token: set http.auth.token.env to the variable holding it"));
    case 400:
    case 404:
      return absl::InvalidArgumentError(absl::StrCat(server, ": ", error));
    case 503:
      return absl::UnavailableError(
          absl::StrCat(server, " cannot answer now (try again shortly): ", error));
    default:
      return absl::InternalError(absl::StrCat(server, " answered ", response.status, ": ", error));
  }
  if (flags.json) {
    std::printf("%s\n", answer.dump(2).c_str());
  } else {
    PrintTable(answer);
  }
  return absl::OkStatus();
}

}  // namespace

void AddQueryCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<QueryFlags>();
  CLI::App* command = app.add_subcommand(
      "query", "Ask a running instance for a card's live windows (interactive queries)");
  AddConfigFlags(*command, flags->config, "config/weir.yaml");
  command->add_option("--card", flags->card,
                      "The card number; - reads it from stdin (a number on the command line is "
                      "visible to other users of this machine in the process list)");
  command->add_option("--token", flags->token, "The card's token (32 hex, as alerts carry it)");
  command
      ->add_option("--store", flags->store,
                   "card-1m, card-5m (windows) or card-windows (the stored slices)")
      ->check(CLI::IsMember({"card-1m", "card-5m", "card-windows"}))
      ->capture_default_str();
  command->add_option("--from", flags->from, "Windows starting at or after (epoch ms)");
  command->add_option("--to", flags->to, "Windows starting at or before (epoch ms)");
  command->add_flag("--allow-stale", flags->allow_stale,
                    "Let a standby answer when the active task cannot (the answer says its lag)");
  command->add_option("--server", flags->server,
                      "Any instance, as HOST:PORT or http://HOST:PORT (default: "
                      "application.server, else 127.0.0.1:<metrics.port>)");
  command->add_flag("--json", flags->json, "Print the instance's JSON answer");
  command->add_option("--timeout", flags->timeout_s, "Seconds to wait for the answer")
      ->capture_default_str()
      ->check(Positive());
  command->footer(
      "\nAny instance answers: it forwards the query to the instance running the card's\n"
      "partition (as a token: the card number does not leave the instance it was sent to).\n"
      "Answers carry the masked card and its token, never the number. While the task restores\n"
      "or its group rebalances the instance answers 503 and this exits 1 saying why; bad\n"
      "input exits 2. With http.auth.token.env set, the token is sent as a bearer token.\n"
      "docs/queries.md has the HTTP API.\n\n"
      "Examples:\n"
      "  echo 4111111111111111 | weir query --card - --store card-5m\n"
      "  weir query --token 3f9c...e1 --store card-1m --json --server weir-1:9464\n");
  command->callback([flags, exit_code] { ReportOutcome("query", Query(*flags), exit_code); });
}

}  // namespace weir::cli
