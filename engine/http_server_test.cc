#include "engine/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/http_client.h"

namespace weir {
namespace {

std::string Get(int port, const std::string& path) {
  const HttpResponse response = HttpGet(port, path);
  return absl::StrCat("HTTP/1.1 ", response.status, "\n", response.headers, "\n\n", response.body);
}

TEST(HttpServer, ServesMetricsHealthAndReadinessWithTheirStatusCodes) {
  std::atomic<bool> healthy = true, ready = false;
  auto server = HttpServer::Start("127.0.0.1", 0,
                                  {.metrics = [] { return std::string("weir_up 1\n"); },
                                   .healthy = [&] { return healthy.load(); },
                                   .not_ready = [&] {
                                     return std::string(ready ? "" : "testing");
                                   }});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_THAT(Get(port, "/metrics"),
              ::testing::AllOf(::testing::StartsWith("HTTP/1.1 200"),
                               ::testing::HasSubstr("text/plain; version=0.0.4"),
                               ::testing::EndsWith("weir_up 1\n")));
  EXPECT_THAT(Get(port, "/healthz"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(Get(port, "/readyz"), ::testing::AllOf(::testing::StartsWith("HTTP/1.1 503"),
                                                     ::testing::EndsWith("not ready: testing\n")));
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
