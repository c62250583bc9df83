// A minimal HTTP/1.1 GET over loopback (no client library is installed), for tests and the
// failover benchmark, which read /metrics and /tasks: the status
// code and body of http://127.0.0.1:<port><target>.
#ifndef WEIR_ENGINE_HTTP_CLIENT_H_
#define WEIR_ENGINE_HTTP_CLIENT_H_

#include <string>

namespace weir {

struct HttpResponse {
  int status = 0;  // 0: no connection or no valid response
  std::string headers;
  std::string body;
};

HttpResponse HttpGet(int port, const std::string& target);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int FreePort();

// `text` percent-encoded for a URL query value.
std::string UrlEncode(const std::string& text);

}  // namespace weir

#endif  // WEIR_ENGINE_HTTP_CLIENT_H_
