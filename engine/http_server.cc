#include "engine/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace weir {
namespace {

void Reply(mg_connection* connection, int status, const char* content_type,
           const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
            "\r\n",
            status,
            status == 200   ? "OK"
            : status == 404 ? "Not Found"
                            : "Service Unavailable",
            content_type, body.size());
  mg_write(connection, body.data(), body.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                              Handlers handlers) {
  static std::once_flag initialised;
  std::call_once(initialised, [] { mg_init_library(0); });
  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(handlers)));
  const std::string address = absl::StrCat(host, ":", port);
  const char* options[] = {"listening_ports",    address.c_str(), "num_threads", "2",
                           "request_timeout_ms", "10000",         nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               " (metrics.host, metrics.port): in use, or not "
                                               "an address of this machine"));
  }
  mg_server_port ports[1];
  if (mg_get_server_ports(server->context_, 1, ports) < 1) {
    return absl::InternalError(absl::StrCat("listening on ", address, " but no port is known"));
  }
  server->port_ = ports[0].port;
  mg_set_request_handler(server->context_, "/", &HttpServer::Serve, server.get());
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int HttpServer::Serve(mg_connection* connection, void* opaque) {
  const auto* self = static_cast<HttpServer*>(opaque);
  const mg_request_info* request = mg_get_request_info(connection);
  const std::string uri = request->local_uri != nullptr ? request->local_uri : "";
  if (uri == "/metrics") {
    Reply(connection, 200, "text/plain; version=0.0.4; charset=utf-8", self->handlers_.metrics());
  } else if (uri == "/healthz") {
    const bool healthy = self->handlers_.healthy();
    Reply(connection, healthy ? 200 : 503, "text/plain", healthy ? "ok\n" : "unhealthy\n");
  } else if (uri == "/readyz") {
    const std::string why = self->handlers_.not_ready();
    Reply(connection, why.empty() ? 200 : 503, "text/plain",
          why.empty() ? std::string("ready\n") : absl::StrCat("not ready: ", why, "\n"));
  } else if (uri == "/tasks" && self->handlers_.tasks) {
    Reply(connection, 200, "application/json", self->handlers_.tasks());
  } else {
    Reply(connection, 404, "text/plain", "try /metrics, /healthz, /readyz or /tasks\n");
  }
  return 1;  // handled
}

}  // namespace weir
