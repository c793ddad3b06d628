// Table renderings: alignment, escaping and quoting in every format.
#include <gtest/gtest.h>

#include "report/table.h"

namespace fersweep::report {
namespace {

Table sample() {
  Table t;
  t.id = "t";
  t.title = "A & B";
  t.header = {"name", "value"};
  t.label_columns = 1;
  t.rows = {{Cell("a|b, \"c\" <d> 50%_x"), Cell("12.3", 12.345678)}, {Cell("Ünï"), Cell("-")}};
  t.notes = {"mean ± t·sd/√n"};
  return t;
}

TEST(ReportTable, TextAlignsLabelsLeftAndNumbersRight) {
  Table t = sample();
  t.rows[0][0] = Cell("long label");
  EXPECT_EQ(render_text(t),
            "A & B:\n"
            "name        value\n"
            "-----------------\n"
            "long label   12.3\n"
            "Ünï             -\n"
            "mean ± t·sd/√n\n");
}

TEST(ReportTable, CsvQuotesAndKeepsFullPrecision) {
  EXPECT_EQ(render_csv(sample()), "name,value\n\"a|b, \"\"c\"\" <d> 50%_x\",12.345678\nÜnï,-\n");
}

TEST(ReportTable, MarkdownHtmlAndLatexEscape) {
  const Table t = sample();
  const std::string md = render_markdown(t);
  EXPECT_NE(md.find("| a\\|b, \"c\" <d> 50%_x | 12.3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| --- | ---: |"), std::string::npos) << md;
  const std::string html = render_html(t);
  EXPECT_NE(html.find("<caption>A &amp; B</caption>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>a|b, &quot;c&quot; &lt;d&gt; 50%_x</td><td class=\"num\">12.3</td>"),
            std::string::npos)
      << html;
  const std::string tex = render_latex(t);
  EXPECT_NE(tex.find("\\caption{A \\& B}"), std::string::npos) << tex;
  EXPECT_NE(tex.find("a|b, \"c\" <d> 50\\%\\_x & 12.3 \\\\"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\begin{tabular}{lr}\n\\toprule"), std::string::npos) << tex;
  EXPECT_NE(tex.find("mean $\\pm$ t$\\cdot$sd/$\\surd$n"), std::string::npos) << tex;
  EXPECT_EQ(latex_escape("#$&{}~^\\"),
            "\\#\\$\\&\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}");
}

}  // namespace
}  // namespace fersweep::report
