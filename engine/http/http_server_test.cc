#include "engine/http/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

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

TEST(HttpServer, StateAndTasksNeedTheBearerTokenWhenOneIsSet) {
  std::vector<HttpRequest> seen;  // civetweb's threads; read after the calls return
  auto server = HttpServer::Start(
      "127.0.0.1", 0,
      {.metrics = [] { return std::string("weir_up 1\n"); },
       .tasks = [] { return std::string("{}"); },
       .state = [&seen](const HttpRequest& request) {
         seen.push_back(request);
         return HttpReply{.status = 503, .body = "{\"error\":\"restoring\"}", .retry_after_s = 2};
       },
       .bearer_token = "0123456789abcdef-token"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = absl::StrCat("http://127.0.0.1:", (*server)->port());
  const auto post = [&](const std::string& path, std::vector<std::string> headers) {
    return HttpSend({.url = url + path, .body = "{\"card\":\"x\"}", .headers = headers});
  };
  EXPECT_EQ(post("/state/card-5m/windows", {}).status, 401);
  EXPECT_EQ(post("/state/card-5m/windows", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(post("/state/card-5m/windows", {"Authorization: Bearer 0123456789abcdef-toke"}).status,
            401);
  EXPECT_THAT(post("/state/card-5m/windows", {}).headers,
              ::testing::HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_EQ(HttpGet((*server)->port(), "/tasks").status, 401);
  EXPECT_TRUE(seen.empty()) << "an unauthorized request reached the handler";
  // /metrics and the probes stay open: Prometheus and the kubelet carry no token.
  EXPECT_EQ(HttpGet((*server)->port(), "/metrics").status, 200);

  const HttpResponse ok =
      post("/state/card-5m/windows", {"Authorization: Bearer 0123456789abcdef-token",
                                      "X-Weir-Forwarded-By: 10.0.0.2:9464"});
  EXPECT_EQ(ok.status, 503);
  EXPECT_THAT(ok.headers, ::testing::HasSubstr("Retry-After: 2"));
  EXPECT_EQ(ok.body, "{\"error\":\"restoring\"}");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/state/card-5m/windows");
  EXPECT_EQ(seen[0].body, "{\"card\":\"x\"}");
  EXPECT_EQ(seen[0].forwarded_by, "10.0.0.2:9464");

  const HttpResponse big = HttpSend({.url = url + "/state/card-5m/windows",
                                     .body = std::string(HttpServer::kMaxBodyBytes + 1, ' '),
                                     .headers = {"Authorization: Bearer 0123456789abcdef-token"}});
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(seen.size(), 1u);
}

}  // namespace
}  // namespace weir
