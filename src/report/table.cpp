// Renderings of report tables. Every format shows the same cells; only CSV prefers raw numbers.
#include "report/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace fersweep::report {
namespace {

// Display width in code points (class names and parameters may be UTF-8).
std::size_t width_of(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, std::size_t width, bool left) {
  const std::string fill(width > width_of(s) ? width - width_of(s) : 0, ' ');
  return left ? s + fill : fill + s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\textbackslash{}";
        break;
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      default:
        out += c;
    }
  }
  // Symbols the report's own text uses; pdflatex's utf8 input does not know them.
  static const std::pair<const char*, const char*> kSymbols[] = {
      {"−", "$-$"},       {"±", "$\\pm$"},    {"·", "$\\cdot$"},
      {"√", "$\\surd$"},  {"×", "$\\times$"}, {"†", "\\dag{}"},
      {"…", "\\ldots{}"}, {"—", "---"},       {"–", "--"}};
  for (const auto& [symbol, command] : kSymbols) {
    for (auto at = out.find(symbol); at != std::string::npos; at = out.find(symbol, at)) {
      out.replace(at, std::strlen(symbol), command);
      at += std::strlen(command);
    }
  }
  return out;
}

std::string render_text(const Table& t) {
  std::vector<std::size_t> width(t.header.size(), 0);
  for (std::size_t c = 0; c < t.header.size(); ++c) width[c] = width_of(t.header[c]);
  for (const auto& row : t.rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], width_of(row[c].text));
  std::string out = t.title.empty() ? "" : t.title + ":\n";
  auto line = [&](auto&& cell_text, std::size_t n) {
    std::string s;
    for (std::size_t c = 0; c < n; ++c) {
      s += pad(cell_text(c), width[c], c < t.label_columns);
      if (c + 1 < n) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  out += line([&](std::size_t c) { return t.header[c]; }, t.header.size());
  std::size_t total = 0;
  for (auto w : width) total += w + 2;
  out += std::string(total >= 2 ? total - 2 : 0, '-') + "\n";
  for (const auto& row : t.rows)
    out += line([&](std::size_t c) { return row[c].text; }, std::min(row.size(), width.size()));
  for (const auto& n : t.notes) out += n + "\n";
  return out;
}

std::string render_markdown(const Table& t) {
  std::string out = t.title.empty() ? "" : "**" + md_escape(t.title) + "**\n\n";
  out += "|";
  for (const auto& h : t.header) out += " " + md_escape(h) + " |";
  out += "\n|";
  for (std::size_t c = 0; c < t.header.size(); ++c)
    out += c < t.label_columns ? " --- |" : " ---: |";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& cell : row) out += " " + md_escape(cell.text) + " |";
    out += "\n";
  }
  if (!t.notes.empty()) out += "\n";
  for (const auto& n : t.notes) out += "- " + md_escape(n) + "\n";
  return out;
}

std::string render_csv(const Table& t) {
  std::string out;
  for (std::size_t c = 0; c < t.header.size(); ++c) out += (c ? "," : "") + csv_field(t.header[c]);
  out += "\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      const Cell& cell = row[c];
      out += (c ? "," : "") + (cell.value ? fmt::format("{}", *cell.value) : csv_field(cell.text));
    }
    out += "\n";
  }
  return out;
}

std::string render_latex(const Table& t) {
  std::string spec;
  for (std::size_t c = 0; c < t.header.size(); ++c) spec += c < t.label_columns ? 'l' : 'r';
  std::string out = "\\begin{table}[htbp]\n\\centering\n\\small\n";
  if (!t.title.empty()) out += "\\caption{" + latex_escape(t.title) + "}\n";
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
  for (std::size_t c = 0; c < t.header.size(); ++c)
    out += (c ? " & " : "") + latex_escape(t.header[c]);
  out += " \\\\\n\\midrule\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < row.size(); ++c)
      out += (c ? " & " : "") + latex_escape(row[c].text);
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  for (const auto& n : t.notes) out += "\n\\par\\footnotesize " + latex_escape(n) + "\n";
  out += "\\end{table}\n";
  return out;
}

std::string render_html(const Table& t) {
  std::string out = "<table>\n";
  if (!t.title.empty()) out += "<caption>" + html_escape(t.title) + "</caption>\n";
  out += "<thead><tr>";
  for (const auto& h : t.header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += c < t.label_columns ? "<td>" : "<td class=\"num\">";
      out += html_escape(row[c].text) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  for (const auto& n : t.notes) out += "<p class=\"note\">" + html_escape(n) + "</p>\n";
  return out;
}

}  // namespace fersweep::report
