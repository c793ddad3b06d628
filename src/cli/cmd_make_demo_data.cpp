// `fersweep make-demo-data DIR [--seed S]`: writes the embedded SFEW-shaped demo dataset.
#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/demo.h"

namespace fersweep::cli {
namespace {

constexpr const char* kManual = R"(
DIR gets one folder per class (Angry Disgust Fear Happy Neutral Sad Surprise) holding
100 JPEG frames each (75 for Disgust, as in SFEW's course split): 384x288 cluttered
"movie scenes", each with one main face whose drawn expression (brows, eyes, mouth) is
the label, with varied skin tone, size, position and a slight rotation; about a third
also show a smaller bystander face. DIR/face_boxes.csv gives the true box of every main
face (columns path,class,x,y,w,h; path relative to DIR, box in pixels), a stand-in for
manual annotations. The stock OpenCV Haar frontal-face cascade finds the main face in
well over 90% of the frames, so the face-crop variant can be exercised end to end.

--format writes the same frames in another dataset's own layout instead (see
docs/datasets.md): fer2013 and ferplus (48x48 grey face rows in fer2013.csv, FER+
votes in fer2013new.csv), rafdb (aligned faces, original frames, the label list),
affectnet (frames with face boxes in training.csv/validation.csv), ckplus (subjects'
sequences with emotion files), jaffe (posers' faces) and expw (frames, a line per
face in label/label.lst, bystanders included). Each includes samples the format
leaves out (FER+ blank names and unknown majorities, AffectNet's None, CK+'s
unlabelled sequences). --per-class N writes N samples per class (CK+: N sequences).

The output is a pure function of --seed: the same seed gives byte-identical files.
DIR is created if needed; a non-empty DIR is refused unless it already holds a demo
dataset, which is then rewritten.

Example:
  fersweep make-demo-data data/demo
  fersweep make-demo-data data/demo-7 --seed 7
  fersweep make-demo-data data/demo-fer2013 --format fer2013)";

struct Options {
  std::string dir;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string format = "folders";
  int per_class = 0;
};

}  // namespace

void add_make_demo_data(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "make-demo-data", "Write the demo dataset: a synthetic, SFEW-shaped stand-in for a real one");
  cmd->footer(kManual);
  cmd->add_option("DIR", opts->dir, "Directory to write the dataset into")->required();
  // CLI11 would wrap "-1" around to 2^64-1: refuse a sign before conversion.
  const CLI::Validator unsigned_integer(
      [](std::string& value) {
        return value.empty() || value[0] == '-' ? std::string("must be an integer from 0 to 2^64-1")
                                                : std::string();
      },
      "UINT");
  cmd->add_option("--seed", opts->seed, "Seed of the generator, 0 to 2^64-1 (default 0)")
      ->check(unsigned_integer);
  cmd->add_option("--threads", opts->threads, "Worker threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--format", opts->format, "Dataset format to write (default folders)")
      ->check(CLI::IsMember(data::kFormatNames));
  cmd->add_option("--per-class", opts->per_class,
                  "Samples per class for --format other than folders (default: 100, 75 Disgust)")
      ->check(CLI::Range(1, 100000));
  cmd->callback([opts] {
    const auto start = std::chrono::steady_clock::now();
    if (opts->format != "folders") {
      data::make_demo_dataset_as(opts->dir, opts->format, opts->seed, opts->threads,
                                 opts->per_class);
      log::info("wrote the demo dataset in format {} (seed {}) to {} in {:.1f} s", opts->format,
                opts->seed, opts->dir,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      return;
    }
    if (opts->per_class != 0)
      throw UsageError("--per-class applies to --format other than folders");
    data::make_demo_dataset(opts->dir, opts->seed, opts->threads);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int total = 0;
    for (int c = 0; c < 7; ++c) total += data::demo_class_size(c);
    log::info("wrote {} demo images (7 classes, seed {}) and {} to {} in {:.1f} s", total,
              opts->seed, data::kDemoBoxesFile, opts->dir, seconds);
  });
}

}  // namespace fersweep::cli
