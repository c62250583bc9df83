// The one writer of the benches' HTML reports (`weir bench compare`'s and `weir bench
// kstreams`' report.html): a self-contained page of headings, paragraphs, tables, lists and SVG
// charts. Every text it is given is escaped, so a value holding <, &, or quotes (a path, an
// option set's name, a JVM option) is shown, never interpreted.
#ifndef WEIR_BENCH_HTML_REPORT_H_
#define WEIR_BENCH_HTML_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace weir::bench {

// `text` for HTML text and attribute values.
std::string HtmlEscape(absl::string_view text);

class HtmlReport {
 public:
  explicit HtmlReport(absl::string_view title);

  // A paragraph of escaped text; spans between backticks are shown as code.
  HtmlReport& Paragraph(absl::string_view text);
  HtmlReport& Heading(absl::string_view text);
  // A table: the first column left-aligned (names), the others right-aligned (figures).
  HtmlReport& Table(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows);
  // A bulleted list; with `code`, each item shown as code.
  HtmlReport& List(const std::vector<std::string>& items, bool code = false);
  // An SVG picture made by SvgChart (its labels already escaped).
  HtmlReport& Svg(const std::string& svg);

  std::string Render() const;

 private:
  std::string title_;
  std::string body_;
};

// A line chart: one polyline per series, each a list of (x, y) points; a NaN y breaks its
// line, and a series without a point to draw says `when_empty` in the legend. Names and labels
// are escaped.
struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;
  std::string when_empty = "no values";
};
std::string SvgChart(absl::string_view title, absl::string_view x_unit,
                     const std::vector<ChartSeries>& series);

}  // namespace weir::bench

#endif  // WEIR_BENCH_HTML_REPORT_H_
