#include "common/http_client.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

TEST(ServerUrl, TakesHostPortOrAUrl) {
  EXPECT_EQ(ServerUrl("127.0.0.1:9464").value_or(""), "http://127.0.0.1:9464");
  EXPECT_EQ(ServerUrl("http://127.0.0.1:9464").value_or(""), "http://127.0.0.1:9464");
  EXPECT_EQ(ServerUrl("http://weir-1:9464/").value_or(""), "http://weir-1:9464");
  EXPECT_EQ(ServerUrl("https://weir-1.example:443").value_or(""), "https://weir-1.example:443");
  EXPECT_EQ(ServerUrl("[::1]:9464").value_or(""), "http://[::1]:9464");
}

TEST(ServerUrl, RefusesWhatIsNotAServerNamingIt) {
  for (const char* bad : {"127.0.0.1", "http://127.0.0.1", "ftp://h:21", "h:port", "h:70000",
                          "http://h:9464/metrics", ":9464"}) {
    const absl::StatusOr<std::string> url = ServerUrl(bad);
    ASSERT_FALSE(url.ok()) << bad << " -> " << *url;
    EXPECT_NE(url.status().message().find(bad), std::string::npos) << url.status();
  }
}

}  // namespace
}  // namespace weir
