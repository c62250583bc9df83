#include "engine/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

namespace weir {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

HttpResponse HttpGet(int port, const std::string& target) {
  HttpResponse out;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  sockaddr_in address = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return out;
  }
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return out;
  }
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  close(fd);
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos ||
      std::sscanf(response.c_str(), "HTTP/1.%*d %d", &out.status) != 1) {
    out.status = 0;
    return out;
  }
  out.headers = response.substr(0, end);
  out.body = response.substr(end + 4);
  // Chunked bodies (Prometheus' API): join the chunks.
  if (out.headers.find("Transfer-Encoding: chunked") != std::string::npos) {
    std::string joined;
    size_t at = 0;
    while (at < out.body.size()) {
      const size_t line_end = out.body.find("\r\n", at);
      if (line_end == std::string::npos) break;
      const size_t size = std::stoul(out.body.substr(at, line_end - at), nullptr, 16);
      if (size == 0) break;
      joined += out.body.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
    out.body = joined;
  }
  return out;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

}  // namespace weir
