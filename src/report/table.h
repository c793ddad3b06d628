// A report table (title, header, cells, notes) and its renderings: aligned text, Markdown, CSV,
// LaTeX (booktabs) and HTML.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fersweep::report {

/// One cell: what is shown, and for numeric cells the full-precision value CSV writes.
struct Cell {
  std::string text;
  std::optional<double> value;
  Cell() = default;
  Cell(std::string t) : text(std::move(t)) {}  // NOLINT: text cells from strings
  Cell(const char* t) : text(t) {}             // NOLINT
  Cell(std::string t, double v) : text(std::move(t)), value(v) {}
};

/// A table as reports show it. The first `label_columns` columns are text (left-aligned).
struct Table {
  std::string id;     ///< file stem for CSV output ("main", "best", ...)
  std::string title;  ///< caption
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  std::size_t label_columns = 0;
  std::vector<std::string> notes;  ///< shown under the table
};

/// Aligned plain text with a rule under the header; the title first, notes last.
std::string render_text(const Table& table);
/// A GitHub-flavoured Markdown table with the title as a bold caption and notes as a list.
std::string render_markdown(const Table& table);
/// RFC 4180 CSV of header and rows; numeric cells at full precision, no title or notes.
std::string render_csv(const Table& table);
/// A booktabs `table` environment (needs \usepackage{booktabs}); text is escaped.
std::string render_latex(const Table& table);
/// An HTML <table> with <caption>; text is escaped.
std::string render_html(const Table& table);

/// Escapes &, <, >, " for HTML.
std::string html_escape(const std::string& text);
/// Escapes LaTeX's special characters.
std::string latex_escape(const std::string& text);

}  // namespace fersweep::report
