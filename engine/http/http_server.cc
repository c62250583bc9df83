#include "engine/http/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace weir {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    default: return "Service Unavailable";
  }
}

void Reply(mg_connection* connection, const HttpReply& reply) {
  const std::string extra =
      reply.status == 401 ? "WWW-Authenticate: Bearer realm=\"weir\"\r\n"
      : reply.retry_after_s > 0 ? absl::StrCat("Retry-After: ", reply.retry_after_s, "\r\n")
                                : "";
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
            "Connection: close\r\n\r\n",
            reply.status, Reason(reply.status), reply.content_type.c_str(), reply.body.size(),
            extra.c_str());
  mg_write(connection, reply.body.data(), reply.body.size());
}

void Reply(mg_connection* connection, int status, const char* content_type,
           const std::string& body) {
  Reply(connection, HttpReply{.status = status, .content_type = content_type, .body = body});
}

// The token compared in time independent of where they differ.
bool SameToken(absl::string_view given, absl::string_view expected) {
  unsigned char differ = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    differ |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return differ == 0;
}

bool Authorized(mg_connection* connection, const std::string& token) {
  if (token.empty()) return true;
  const char* header = mg_get_header(connection, "Authorization");
  constexpr absl::string_view kBearer = "Bearer ";
  if (header == nullptr || !absl::StartsWith(header, kBearer)) return false;
  return SameToken(absl::string_view(header).substr(kBearer.size()), token);
}

// The request body, or nullopt when it is larger than HttpServer::kMaxBodyBytes.
std::optional<std::string> ReadBody(mg_connection* connection) {
  std::string body;
  char buffer[8192];
  int n = 0;
  while ((n = mg_read(connection, buffer, sizeof(buffer))) > 0) {
    body.append(buffer, static_cast<size_t>(n));
    if (body.size() > HttpServer::kMaxBodyBytes) return std::nullopt;
  }
  return body;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                              Handlers handlers) {
  static std::once_flag initialised;
  std::call_once(initialised, [] { mg_init_library(0); });
  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(handlers)));
  const std::string address = absl::StrCat(host, ":", port);
  const char* options[] = {"listening_ports",    address.c_str(), "num_threads", "8",
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
  } else if ((uri == "/tasks" || absl::StartsWith(uri, "/state/")) &&
             !Authorized(connection, self->handlers_.bearer_token)) {
    Reply(connection, 401, "text/plain", "a bearer token is required (Authorization: Bearer)\n");
  } else if (uri == "/tasks" && self->handlers_.tasks) {
    Reply(connection, 200, "application/json", self->handlers_.tasks());
  } else if (absl::StartsWith(uri, "/state/") && self->handlers_.state) {
    std::optional<std::string> body = ReadBody(connection);
    if (!body.has_value()) {
      Reply(connection, 413, "text/plain",
            absl::StrCat("the body is larger than ", HttpServer::kMaxBodyBytes, " bytes\n"));
      return 1;
    }
    const char* forwarded = mg_get_header(connection, "X-Weir-Forwarded-By");
    HttpReply reply;
    try {
      reply = self->handlers_.state(HttpRequest{
          .method = request->request_method != nullptr ? request->request_method : "",
          .path = uri,
          .body = *std::move(body),
          .forwarded_by = forwarded != nullptr ? forwarded : ""});
    } catch (const std::exception&) {
      // Not the exception's text: it may quote the request. The service goes on.
      reply = HttpReply{.status = 500, .body = "{\"error\":\"internal error\"}\n"};
    }
    Reply(connection, reply);
  } else {
    Reply(connection, 404, "text/plain",
          "try /metrics, /healthz, /readyz, /tasks or POST /state/<store>/windows\n");
  }
  return 1;  // handled
}

}  // namespace weir
