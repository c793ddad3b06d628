// Quality of the demo dataset (label `slow`): the stock Haar cascade's detection rate on all 675
// frames, and labels a linear classifier can learn from the face alone.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <atomic>
#include <cstring>
#include <map>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "data/dataset.h"
#include "data/demo.h"
#include "data/folds.h"
#include "demo_fixture.h"

namespace fersweep::data {
namespace {
using namespace testing;

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

// The stock cascade with its usual parameters (scaleFactor 1.1, minSize 30) finds the main face.
// Raw detections are grouped the way detectMultiScale groups them, for minNeighbors 3 and 5.
TEST_F(Demo, HaarCascadeFindsTheMainFace) {
  const std::string xml = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
  ASSERT_TRUE(fs::exists(xml)) << "opencv-data is not installed";
  const auto boxes = read_boxes(dir_ / kDemoBoxesFile);
  struct Result {
    bool found[2] = {false, false}, largest_iou50[2] = {false, false};
  };
  std::vector<Result> results(boxes.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    cv::CascadeClassifier cascade(xml);
    for (std::size_t i = next++; i < boxes.size(); i = next++) {
      cv::Mat gray;
      cv::cvtColor(read_rgb(dir_ / boxes[i].path), gray, cv::COLOR_RGB2GRAY);
      std::vector<cv::Rect> raw;
      cascade.detectMultiScale(gray, raw, 1.1, 0, 0, cv::Size(30, 30));
      const int neighbours[2] = {3, 5};
      for (int k = 0; k < 2; ++k) {
        std::vector<cv::Rect> faces = raw;
        cv::groupRectangles(faces, neighbours[k], 0.2);
        cv::Rect largest;
        for (const auto& f : faces) {
          if (iou(f, boxes[i].rect) >= 0.3) results[i].found[k] = true;
          if (f.area() > largest.area()) largest = f;
        }
        results[i].largest_iou50[k] = !faces.empty() && iou(largest, boxes[i].rect) >= 0.5;
      }
    }
  };
  std::thread helper(worker);
  worker();
  helper.join();
  for (int k = 0; k < 2; ++k) {
    std::size_t found = 0, good = 0;
    std::map<std::string, int> missed;
    for (std::size_t i = 0; i < boxes.size(); ++i) {
      found += results[i].found[k];
      good += results[i].largest_iou50[k];
      if (!results[i].found[k]) ++missed[boxes[i].label];
    }
    const double found_rate = static_cast<double>(found) / boxes.size();
    const double good_rate = static_cast<double>(good) / boxes.size();
    std::cout << "minNeighbors " << (k ? 5 : 3) << ": main face found in " << found_rate * 100
              << "%, largest detection IoU >= 0.5 in " << good_rate * 100 << "%; misses:";
    for (const auto& [label, n] : missed) std::cout << " " << label << " " << n;
    std::cout << "\n";
    EXPECT_GE(found_rate, 0.90);
    EXPECT_GE(good_rate, 0.85);
  }
}

// The expression is in the face: a linear classifier on 24x24 grey face crops, trained on four
// folds and tested on the fifth, is far above chance (1/7).
TEST_F(Demo, LabelsAreLearnableFromTheFace) {
  const Manifest m = scan_dataset(dir_);
  const auto boxes = read_boxes(dir_ / kDemoBoxesFile);
  std::map<std::string, cv::Rect> box_of;
  for (const auto& b : boxes) box_of[b.path] = b.rect;
  constexpr int kSide = 24;
  at::Tensor x = torch::empty({static_cast<long>(m.images.size()), kSide * kSide});
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    cv::Mat gray, crop, f;
    cv::cvtColor(read_rgb(m.path(i)), gray, cv::COLOR_RGB2GRAY);
    cv::resize(gray(box_of.at(m.images[i].relative_path)), crop, cv::Size(kSide, kSide), 0, 0,
               cv::INTER_AREA);
    crop.convertTo(f, CV_32F, 1.0 / 255);
    cv::Scalar mean, sd;
    cv::meanStdDev(f, mean, sd);  // per-face contrast normalisation: skin tone is not the label
    f = (f - mean[0]) / (sd[0] + 1e-3);
    std::memcpy(x[static_cast<long>(i)].data_ptr<float>(), f.ptr<float>(), kSide * kSide * 4);
  }
  const auto labels = m.labels();
  const at::Tensor y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()));
  const FoldSplit split = fold_split(stratified_fold_assignment(labels, 5, 0), 0);
  auto take = [](const at::Tensor& t, const std::vector<std::size_t>& idx) {
    return t.index_select(0, torch::tensor(std::vector<int64_t>(idx.begin(), idx.end())));
  };
  torch::manual_seed(0);
  torch::nn::Linear head(kSide * kSide, 7);
  torch::optim::Adam opt(head->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  const at::Tensor xtr = take(x, split.train), ytr = take(y, split.train);
  for (int epoch = 0; epoch < 300; ++epoch) {
    opt.zero_grad();
    torch::nn::functional::cross_entropy(head(xtr), ytr).backward();
    opt.step();
  }
  torch::NoGradGuard no_grad;
  const double accuracy = head(take(x, split.test))
                              .argmax(1)
                              .eq(take(y, split.test))
                              .to(torch::kFloat64)
                              .mean()
                              .item<double>();
  std::cout << "linear classifier on face crops, fold 0 test accuracy: " << accuracy << "\n";
  EXPECT_GE(accuracy, 0.6);
}

}  // namespace
}  // namespace fersweep::data
