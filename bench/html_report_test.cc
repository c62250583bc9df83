#include "bench/html_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/kstreams.h"

namespace weir::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kScript[] = "<script>alert('x')</script>";
constexpr char kEscaped[] = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;";

TEST(HtmlReport, EscapesEveryTextItIsGiven) {
  HtmlReport page(kScript);
  page.Heading(kScript)
      .Paragraph(absl::StrCat("before `", kScript, "` after ", kScript))
      .Table({kScript}, {{kScript, "1 & 2"}})
      .List({kScript}, /*code=*/true)
      .Svg(SvgChart(kScript, kScript, {{.name = kScript, .points = {{1, 2}}}}));
  const std::string html = page.Render();
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<title>", kEscaped, "</title>")));
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<p>before <code>", kEscaped, "</code> after ", kEscaped,
                                           "</p>")));
  EXPECT_THAT(html, HasSubstr("<td>1 &amp; 2</td>"));
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<li><code>", kEscaped, "</code></li>")));
}

TEST(HtmlReport, AChartBreaksItsLineAtAMissingValue) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string svg = SvgChart(
      "t", "records",
      {{.name = "a", .points = {{1, 1}, {2, nan}, {3, 1}}}, {.name = "b", .points = {{1, nan}}}});
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++polylines;
  }
  EXPECT_EQ(polylines, 2u) << svg;
  EXPECT_THAT(svg, HasSubstr(">b (no values)</text>"));
}

// Values from the command line and the peer's output reach the kstreams report as text.
TEST(HtmlReport, TheKStreamsReportEscapesOptionsAndDifferences) {
  KStreamsReport report;
  report.options.jvm_options = {"-Xmx1g", kScript};
  KStreamsRun run;
  run.system = kScript;
  report.runs.push_back(run);
  report.differences = {absl::StrCat("alert ", kScript, " differs")};
  const std::string html = KStreamsHtml(report);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<code>-Xmx1g ", kEscaped, "</code>")));
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<li><code>alert ", kEscaped, " differs</code></li>")));
}

}  // namespace
}  // namespace weir::bench
