// The one HTML writer of every report (sim/page.hpp).
#include "sim/page.hpp"

#include <fstream>

#include "platform/process.hpp"

namespace cbdc::sim {

auto html_escape(const std::string& text) -> std::string {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

html_page::html_page(const std::string& title, const std::string& heading) {
  m_html << "<!doctype html><html><head><meta charset='utf-8'><title>" << html_escape(title)
         << "</title><style>body{font-family:sans-serif;max-width:820px;margin:2em auto;"
            "color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px "
            "solid #ddd;text-align:left}.pass{color:#070}.fail{color:#b00}svg{max-width:100%;"
            "height:auto}</style></head><body>\n<h1>"
         << html_escape(heading) << "</h1>\n";
}

void html_page::heading(const std::string& text) {
  m_html << "<h2>" << html_escape(text) << "</h2>\n";
}

void html_page::paragraph(const std::string& text, bool failed) {
  m_html << (failed ? "<p class='fail'>" : "<p>") << html_escape(text) << "</p>\n";
}

void html_page::list(const std::vector<std::string>& items) {
  m_html << "<ul>";
  for (const auto& item : items) {
    m_html << "<li>" << html_escape(item) << "</li>";
  }
  m_html << "</ul>\n";
}

void html_page::facts(const std::vector<std::pair<std::string, std::string>>& rows) {
  m_html << "<table>";
  for (const auto& [what, value] : rows) {
    m_html << "<tr><th>" << html_escape(what) << "</th><td>" << html_escape(value) << "</td></tr>";
  }
  m_html << "</table>\n";
}

void html_page::table(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows) {
  m_html << "<table><tr>";
  for (const auto& h : header) {
    m_html << "<th>" << html_escape(h) << "</th>";
  }
  m_html << "</tr>";
  for (const auto& row : rows) {
    m_html << "<tr>";
    for (const auto& cell : row) {
      m_html << "<td>" << html_escape(cell) << "</td>";
    }
    m_html << "</tr>";
  }
  m_html << "</table>\n";
}

void html_page::published(const std::string& source, const std::vector<std::string>& lines) {
  heading("Against the published figures");
  paragraph(source);
  list(lines);
}

void html_page::audit(const std::vector<std::string>& checks,
                      const std::vector<std::string>& problems) {
  m_html << "<h2>Audit: <span class='" << (problems.empty() ? "pass'>PASS" : "fail'>FAIL")
         << "</span></h2><ul>";
  for (const auto& c : checks) {
    m_html << "<li>" << html_escape(c) << "</li>";
  }
  for (const auto& p : problems) {
    m_html << "<li class='fail'>" << html_escape(p) << "</li>";
  }
  m_html << "</ul>\n";
}

void html_page::charts(const std::filesystem::path& dir, std::initializer_list<const char*> names) {
  for (const auto* name : names) {
    std::ifstream in(dir / (std::string{name} + ".svg"));
    if (!in) {
      continue;
    }
    std::ostringstream svg;
    svg << in.rdbuf();
    const auto text = svg.str();
    if (const auto at = text.find("<svg"); at != std::string::npos) {
      m_html << "<div>" << text.substr(at) << "</div>\n";
    }
  }
}

auto html_page::write(const std::filesystem::path& path) -> status {
  m_html << "</body></html>\n";
  std::ofstream out(path, std::ios::trunc);
  out << m_html.str();
  if (!out) {
    return error{status_code::io_error, "cannot write " + path.string()};
  }
  return ok_status();
}

auto plot(const std::filesystem::path& dir, const std::string& script) -> status {
  {
    std::ofstream out(dir / "charts.gp", std::ios::trunc);
    out << script;
    if (!out) {
      return error{status_code::io_error, "cannot write " + (dir / "charts.gp").string()};
    }
  }
  // The folder as the shell's $1, never spliced into its command: any name is safe.
  const auto plotted =
      run({"/bin/sh", "-c", "cd \"$1\" && gnuplot charts.gp 2>&1", "sh", dir.string()});
  if (plotted.exit_code != 0) {
    return error{status_code::unavailable, "gnuplot failed: " + plotted.out};
  }
  return ok_status();
}

}  // namespace cbdc::sim
