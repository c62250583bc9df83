#include "bench/html_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace weir::bench {

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

HtmlReport::HtmlReport(absl::string_view title) : title_(HtmlEscape(title)) {}

HtmlReport& HtmlReport::Paragraph(absl::string_view text) {
  body_ += "<p>";
  bool code = false;
  for (size_t start = 0; start <= text.size();) {
    const size_t tick = std::min(text.find('`', start), text.size());
    const std::string part = HtmlEscape(text.substr(start, tick - start));
    body_ += code ? absl::StrCat("<code>", part, "</code>") : part;
    code = !code;
    start = tick + 1;
  }
  body_ += "</p>";
  return *this;
}

HtmlReport& HtmlReport::Heading(absl::string_view text) {
  absl::StrAppend(&body_, "<h2>", HtmlEscape(text), "</h2>");
  return *this;
}

HtmlReport& HtmlReport::Table(const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table><tr>";
  for (const std::string& cell : header) absl::StrAppend(&body_, "<th>", HtmlEscape(cell), "</th>");
  body_ += "</tr>";
  for (const std::vector<std::string>& row : rows) {
    body_ += "<tr>";
    for (const std::string& cell : row) absl::StrAppend(&body_, "<td>", HtmlEscape(cell), "</td>");
    body_ += "</tr>";
  }
  body_ += "</table>";
  return *this;
}

HtmlReport& HtmlReport::List(const std::vector<std::string>& items, bool code) {
  if (items.empty()) return *this;
  body_ += "<ul>";
  for (const std::string& item : items) {
    absl::StrAppend(&body_, "<li>", code ? "<code>" : "", HtmlEscape(item), code ? "</code>" : "",
                    "</li>");
  }
  body_ += "</ul>";
  return *this;
}

HtmlReport& HtmlReport::Svg(const std::string& svg) {
  absl::StrAppend(&body_, "<p>", svg, "</p>");
  return *this;
}

std::string HtmlReport::Render() const {
  return absl::StrCat(
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>", title_, "</title>",
      "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
      "</style></head><body><h1>",
      title_, "</h1>", body_, "</body></html>\n");
}

std::string SvgChart(absl::string_view title, absl::string_view x_unit,
                     const std::vector<ChartSeries>& series) {
  constexpr double kW = 640, kH = 260, kLeft = 60, kRight = 10, kTop = 30, kBottom = 30;
  static const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  double max_x = 1, max_y = 0;
  for (const ChartSeries& s : series) {
    for (const auto& [x, y] : s.points) {
      max_x = std::max(max_x, x);
      if (!std::isnan(y)) max_y = std::max(max_y, y);
    }
  }
  if (max_y <= 0) max_y = 1;
  std::string svg = absl::StrFormat(
      "<svg width='%.0f' height='%.0f' "
      "font-family='sans-serif' font-size='11'><text x='%.0f' y='18' font-size='13'>%s</text>"
      "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='#888'/>"
      "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='#888'/>"
      "<text x='4' y='%.0f'>%.4g</text><text x='4' y='%.0f'>0</text>"
      "<text x='%.0f' y='%.0f' text-anchor='end'>%.0f %s</text>",
      kW, kH, kLeft, HtmlEscape(title), kLeft, kTop, kLeft, kH - kBottom, kLeft, kH - kBottom,
      kW - kRight, kH - kBottom, kTop + 4, max_y, kH - kBottom, kW - kRight, kH - 8, max_x,
      HtmlEscape(x_unit));
  for (size_t i = 0; i < series.size(); ++i) {
    std::vector<std::string> lines(1);
    for (const auto& [x, y] : series[i].points) {
      if (std::isnan(y)) {
        if (!lines.back().empty()) lines.emplace_back();
        continue;
      }
      absl::StrAppendFormat(&lines.back(), "%.1f,%.1f ", kLeft + (kW - kLeft - kRight) * x / max_x,
                            kH - kBottom - (kH - kTop - kBottom) * y / max_y);
    }
    const char* colour = kColours[i % 5];
    bool drawn = false;
    for (const std::string& points : lines) {
      if (points.empty()) continue;
      drawn = true;
      absl::StrAppendFormat(
          &svg, "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>", colour, points);
    }
    absl::StrAppendFormat(&svg, "<text x='%.0f' y='%.0f' fill='%s'>%s%s</text>", kLeft + 10,
                          kTop + 14 + 14.0 * static_cast<double>(i), colour,
                          HtmlEscape(series[i].name),
                          drawn ? "" : absl::StrCat(" (", HtmlEscape(series[i].when_empty), ")"));
  }
  return svg + "</svg>";
}

}  // namespace weir::bench
