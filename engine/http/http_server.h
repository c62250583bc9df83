// The instance's one HTTP listener (civetweb): `/metrics` (Prometheus text format), `/healthz`
// (200 while every stream thread is alive, 503 otherwise), `/readyz` (200 once every active
// task is restored and processing, 503 before, saying why), `/tasks` (the instance's active and
// standby tasks with their lags, as JSON: docs/standby.md) and `POST /state/...` (interactive
// queries: docs/queries.md). With a bearer token set, /tasks and /state answer 401 to a request
// without "Authorization: Bearer <token>".
//
// Concurrency: civetweb serves requests on its own threads (8: a query forwarded to another
// instance holds its thread until that instance answers, and two instances forwarding to each
// other must not take all of each other's threads); the handlers must be safe to call from them
// while the stream threads run. Stop() (or the destructor) returns once no request is in flight.
#ifndef WEIR_ENGINE_HTTP_HTTP_SERVER_H_
#define WEIR_ENGINE_HTTP_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace weir {

// A request as the /state handler sees it.
struct HttpRequest {
  std::string method;
  std::string path;  // without the query string
  std::string body;
  std::string forwarded_by;  // the X-Weir-Forwarded-By header: another instance forwarded it
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  int retry_after_s = 0;  // > 0: a Retry-After header (503)
};

class HttpServer {
 public:
  // Request bodies larger than this are refused (413).
  static constexpr size_t kMaxBodyBytes = 64 * 1024;

  struct Handlers {
    std::function<std::string()> metrics;  // the /metrics body
    std::function<bool()> healthy;         // /healthz
    // /readyz: "" when ready, else why not (the 503's body).
    std::function<std::string()> not_ready;
    std::function<std::string()> tasks;    // /tasks: the instance's tasks as JSON
    // Requests under /state/ (null: 404).
    std::function<HttpReply(const HttpRequest&)> state;
    // Non-empty: what /tasks and /state require as "Authorization: Bearer <token>".
    std::string bearer_token;
  };

  // Listens on `host`:`port` (0 = a free port). Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           Handlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  explicit HttpServer(Handlers handlers) : handlers_(std::move(handlers)) {}
  static int Serve(mg_connection* connection, void* self);

  Handlers handlers_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace weir

#endif  // WEIR_ENGINE_HTTP_HTTP_SERVER_H_
