// The HTML report loads in headless Chromium (Debian's chromium package) and every embedded
// image renders (naturalWidth > 0). Skips with a message when chromium is not installed.
#include <gtest/gtest.h>

#include <regex>

#include "report/figures.h"
#include "report/report.h"
#include "report_test_util.h"

namespace fersweep::report {
namespace {
using namespace testing;

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

TEST(ReportHtml, LoadsInHeadlessChromiumAndImagesRender) {
  const std::string browser = chromium();
  if (browser.empty())
    GTEST_SKIP() << "chromium not installed (apt-get install chromium): HTML load check skipped";
  ReportOptions o;
  o.input = fixture("chromium", "full", "--random-weights");
  o.out = tmp_dir() / "chromium";
  std::filesystem::remove_all(o.out);
  o.formats = {"html"};
  write_report(o);
  // A copy of the page with a probe script appended: after load it writes each image's natural
  // size into the DOM, which --dump-dom prints. The report itself carries no script.
  std::string page = read_file(o.out / "report.html");
  const std::string probe =
      "<script>window.addEventListener('load', () => { const r = [...document.images].map("
      "i => i.complete + ':' + i.naturalWidth + 'x' + i.naturalHeight); const p = "
      "document.createElement('pre'); p.id = 'probe'; p.textContent = 'PROBE[' + r.join(' ') + "
      "']'; "
      "document.body.appendChild(p); });</script>\n";
  page.insert(page.rfind("</body>"), probe);
  const auto probe_page = o.out / "probe.html";
  std::ofstream(probe_page) << page;
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--user-data-dir=" +
      (o.out / "profile").string();
  const auto [rc, dom] = run_command(
      browser + flags + " --virtual-time-budget=10000 --dump-dom file://" + probe_page.string());
  ASSERT_EQ(rc, 0) << dom.substr(0, 2000);
  // The probe's output, not its source: the <pre> it added.
  const auto at = dom.find("<pre id=\"probe\">PROBE[");
  ASSERT_NE(at, std::string::npos) << dom.substr(0, 2000);
  const auto start = dom.find('[', at) + 1;
  const std::string list = dom.substr(start, dom.find(']', start) - start);
  int images = 0;
  const std::regex item(R"((true|false):(\d+)x(\d+))");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), item); it != std::sregex_iterator();
       ++it) {
    ++images;
    EXPECT_EQ((*it)[1], "true");
    EXPECT_GT(std::stoi((*it)[2]), 0);
  }
  EXPECT_EQ(images, 20) << list;
  EXPECT_NE(list.find(std::to_string(confusion_figure_width(7)) + "x" +
                      std::to_string(confusion_figure_height(7))),
            std::string::npos);
  EXPECT_NE(dom.find("id=\"random-weights\""), std::string::npos);

  // And a screenshot of the real page is not blank.
  const auto shot = o.out / "shot.png";
  const auto [src, sout] = run_command("cd " + o.out.string() + " && " + browser + flags +
                                       " --window-size=1400,1000 --screenshot=" + shot.string() +
                                       " file://" + (o.out / "report.html").string());
  ASSERT_EQ(src, 0) << sout;
  const auto [prc, pout] =
      run_command(std::string(FERSWEEP_PYTHON) + " -c \"import cv2; m = cv2.imread('" +
                  shot.string() + "'); print(m.shape[1], m.shape[0], int(m.std() > 5))\"");
  EXPECT_EQ(pout, "1400 1000 1\n");
}

}  // namespace
}  // namespace fersweep::report
