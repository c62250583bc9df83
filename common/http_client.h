// HTTP through libcurl: what an instance forwards an interactive query with to the instance
// holding the key (engine/http/query_service.h), `weir query`, and the tests and benchmarks reading
// weir's /metrics, /healthz, /readyz and /tasks and Prometheus' API; and the port a child
// process listens on. A library of its own (weir::http_client).
#ifndef WEIR_COMMON_HTTP_CLIENT_H_
#define WEIR_COMMON_HTTP_CLIENT_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir {

struct HttpResponse {
  int status = 0;  // 0: no connection or no valid response (`error` says why)
  std::string headers;
  std::string body;  // decoded (chunked transfer undone)
  std::string error;
};

struct HttpCall {
  std::string url;                  // http://host:port/target
  std::optional<std::string> body;  // set: a POST of it
  std::vector<std::string> headers;  // "Name: value"
  std::chrono::milliseconds timeout{30'000};
};

// Sends `call`, without any proxy. Thread-safe.
HttpResponse HttpSend(const HttpCall& call);

// GET http://127.0.0.1:<port><target>, with a 30 s limit. Thread-safe.
HttpResponse HttpGet(int port, const std::string& target);

// The base URL of a server given as HOST:PORT or as a URL (http://HOST:PORT, https://..., a
// trailing slash allowed), without the trailing slash: what every command's --server takes.
// InvalidArgument, naming what was given, for another scheme, a path, or a missing port.
absl::StatusOr<std::string> ServerUrl(absl::string_view server);

// `text` percent-encoded for a URL query value.
std::string UrlEncode(const std::string& text);

// Children started with port 0 bind a port the kernel picks as they bind it, so no other process
// can take it between choosing and binding, as it could a port probed free beforehand. These
// read the port back.

// The TCP port process `pid` listens on, once it does (within `timeout`); nullopt otherwise or
// when it listens on more than one (e.g. Prometheus with `--web.listen-address=127.0.0.1:0`).
// Reads /proc/<pid>/fd and /proc/<pid>/net/tcp{,6}.
std::optional<int> ListeningPort(pid_t pid, std::chrono::milliseconds timeout);

// The port a child writes to `path` once it listens (`weir run --port-file`: one number and a
// newline, written whole), once the file holds one (within `timeout`); nullopt otherwise. Remove
// the file before starting the child: one a killed run left behind names a stale port.
std::optional<int> ReadPortFile(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace weir

#endif  // WEIR_COMMON_HTTP_CLIENT_H_
