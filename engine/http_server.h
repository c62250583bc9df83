// The instance's one HTTP listener (civetweb): `/metrics` (Prometheus text format), `/healthz`
// (200 while every stream thread is alive, 503 otherwise), `/readyz` (200 once every active
// task is restored and processing, 503 before, saying why) and `/tasks` (the instance's active and standby
// tasks with their lags, as JSON: docs/standby.md).
//
// Concurrency: civetweb serves requests on its own threads (2); the handlers must be safe to
// call from them while the stream threads run. Stop() (or the destructor) returns once no
// request is in flight.
#ifndef WEIR_ENGINE_HTTP_SERVER_H_
#define WEIR_ENGINE_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace weir {

class HttpServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  // the /metrics body
    std::function<bool()> healthy;         // /healthz
    // /readyz: "" when ready, else why not (the 503's body).
    std::function<std::string()> not_ready;
    std::function<std::string()> tasks;    // /tasks: the instance's tasks as JSON
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

#endif  // WEIR_ENGINE_HTTP_SERVER_H_
