#pragma once

// The one HTML writer of every report: each text it is given is escaped; only the charts
// (SVG drawn by gnuplot) go in as they are.

#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace cbdc::sim {

/// Text made safe inside HTML, in an element or a quoted attribute.
auto html_escape(const std::string& text) -> std::string;

/// A report's page, built top to bottom.
class html_page {
 public:
  /// The page with its title (the browser's tab) and first heading.
  html_page(const std::string& title, const std::string& heading);
  void heading(const std::string& text);
  void paragraph(const std::string& text, bool failed = false);
  void list(const std::vector<std::string>& items);
  /// Figures, one per row: (what, value).
  void facts(const std::vector<std::pair<std::string, std::string>>& rows);
  /// A table with a header row; the first cell of each row names it.
  void table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows);
  /// "Against the published figures": the source, then one line per figure.
  void published(const std::string& source, const std::vector<std::string>& lines);
  /// "Audit: PASS" (no problems) or "Audit: FAIL", then the checks and the problems.
  void audit(const std::vector<std::string>& checks, const std::vector<std::string>& problems);
  /// Each chart dir/NAME.svg that exists, inline.
  void charts(const std::filesystem::path& dir, std::initializer_list<const char*> names);
  /// Closes the page and writes it. Errors: io_error.
  auto write(const std::filesystem::path& path) -> status;

 private:
  std::ostringstream m_html;
};

/// Runs gnuplot on `script` in `dir` (kept there as charts.gp). Errors: unavailable, with
/// gnuplot's output.
auto plot(const std::filesystem::path& dir, const std::string& script) -> status;

}  // namespace cbdc::sim
