// A minimal HTTP/1.1 GET over loopback for tests (no client library is installed): the status
// code and body of http://127.0.0.1:<port><target>.
#ifndef WEIR_TESTS_SUPPORT_HTTP_H_
#define WEIR_TESTS_SUPPORT_HTTP_H_

#include <string>

namespace weir::testing {

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

}  // namespace weir::testing

#endif  // WEIR_TESTS_SUPPORT_HTTP_H_
