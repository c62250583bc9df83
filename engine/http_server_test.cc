#include "engine/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace weir {
namespace {

// GET `path` from 127.0.0.1:`port`; the whole response (status line, headers, body).
std::string Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "connect failed";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

TEST(HttpServer, ServesMetricsHealthAndReadinessWithTheirStatusCodes) {
  std::atomic<bool> healthy = true, ready = false;
  auto server = HttpServer::Start("127.0.0.1", 0,
                                  {.metrics = [] { return std::string("weir_up 1\n"); },
                                   .healthy = [&] { return healthy.load(); },
                                   .ready = [&] { return ready.load(); }});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_THAT(Get(port, "/metrics"), ::testing::AllOf(::testing::StartsWith("HTTP/1.1 200"),
                                                      ::testing::HasSubstr("text/plain; version=0.0.4"),
                                                      ::testing::EndsWith("weir_up 1\n")));
  EXPECT_THAT(Get(port, "/healthz"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(Get(port, "/readyz"), ::testing::StartsWith("HTTP/1.1 503"));
  ready = true;
  healthy = false;
  EXPECT_THAT(Get(port, "/readyz"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(Get(port, "/healthz"), ::testing::StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(Get(port, "/nothing"), ::testing::StartsWith("HTTP/1.1 404"));
}

TEST(HttpServer, AnAddressInUseIsAClearError) {
  auto first = HttpServer::Start("127.0.0.1", 0, {});
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::Start("127.0.0.1", (*first)->port(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), ::testing::HasSubstr("metrics.port"));
}

}  // namespace
}  // namespace weir
