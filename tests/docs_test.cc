// Every reference table in docs/ is generated from the schema it documents (`weir config docs
// app|rocksdb|fraud|metrics|loadtest`): a test per page fails when the page and the schema drift
// apart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bench/load.h"
#include "engine/http/metrics.h"
#include "engine/runtime/app_config.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_config.h"

namespace weir {
namespace {

struct DocCase {
  const char* page;
  const char* schema;  // the `weir config docs` argument
  std::string (*table)();
};

class SchemaDoc : public ::testing::TestWithParam<DocCase> {};

TEST_P(SchemaDoc, PageEmbedsTheSchemasTable) {
  std::ifstream in(GetParam().page);
  ASSERT_TRUE(in) << GetParam().page << " not found (tests run from the repository root)";
  std::stringstream page;
  page << in.rdbuf();
  EXPECT_THAT(page.str(), ::testing::HasSubstr(GetParam().table()))
      << GetParam().page << " is out of date: regenerate its table with `weir config docs "
      << GetParam().schema << "`";
}

INSTANTIATE_TEST_SUITE_P(
    Docs, SchemaDoc,
    ::testing::Values(DocCase{"docs/configuration.md", "app",
                              [] { return AppConfigSchema().MarkdownTable(); }},
                      DocCase{"docs/rocksdb-options.md", "rocksdb",
                              [] { return RocksDbOptionSetSchema().MarkdownTable(); }},
                      DocCase{"docs/fraud.md", "fraud",
                              [] { return fraud::FraudConfigSchema().MarkdownTable(); }},
                      DocCase{"docs/metrics.md", "metrics", [] { return MetricsMarkdownTable(); }},
                      DocCase{"docs/benchmarks.md", "loadtest",
                              [] { return bench::LoadTestConfigSchema().MarkdownTable(); }}),
    [](const ::testing::TestParamInfo<DocCase>& info) { return std::string(info.param.schema); });

}  // namespace
}  // namespace weir
