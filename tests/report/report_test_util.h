// Helpers for the report tests: fixtures written by make_fixture.py, commands, CSV parsing.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_support.h"

namespace fersweep::report::testing {

inline std::filesystem::path tmp_dir() {
  const std::filesystem::path d = std::filesystem::path(FERSWEEP_TEST_TMP) / "report";
  std::filesystem::create_directories(d);
  return d;
}

/// Runs a shell command; returns its exit status and output (stdout + stderr).
inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// Size and modification time of `file`: a fixture made by one build of fersweep and the script
/// is reused by that build only.
inline std::string stamp_of(const char* file) {
  struct stat st {};
  if (::stat(file, &st) != 0) return "nostamp";
  return std::to_string(st.st_size) + "-" + std::to_string(st.st_mtime);
}

/// Writes a results.h5 fixture once per build: mode full|empty|failed, plus extra flags (a `name`
/// stands for one mode and flags). make_fixture.py journals the records and fersweep's own writer
/// makes results.h5 from them. ctest runs test cases as parallel processes: the first makes it
/// under a lock while the others wait (about 3 s each otherwise), and it is renamed into place, so
/// readers never see a half-written file.
inline std::filesystem::path fixture(const std::string& name, const std::string& mode,
                                     const std::string& flags = "") {
  const std::string script = std::string(FERSWEEP_TESTS_DIR) + "/report/make_fixture.py";
  const auto path = tmp_dir() / (name + "-" + stamp_of(FERSWEEP_EXE_PATH) + "-" +
                                 stamp_of(script.c_str()) + ".h5");
  const test_support::ScopedFileLock lock(path.string() + ".lock");
  if (!std::filesystem::exists(path)) {
    const auto temp = tmp_dir() / (name + "." + std::to_string(::getpid()) + ".h5");
    const auto [rc, out] = run_command(std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                                       "/report/make_fixture.py " + FERSWEEP_EXE_PATH + " " +
                                       temp.string() + " " + mode + " " + flags);
    EXPECT_EQ(rc, 0) << out;
    std::filesystem::rename(temp.string() + ".json", path.string() + ".json");
    std::filesystem::rename(temp, path);
  }
  return path;
}

inline nlohmann::json expected_of(const std::filesystem::path& h5) {
  std::ifstream in(h5.string() + ".json");
  return nlohmann::json::parse(in);
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A CSV file as header → column index and rows of fields (RFC 4180 quoting).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t col(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return 0;
  }
};

inline Csv read_csv(const std::filesystem::path& p) {
  Csv csv;
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  const std::string text = read_file(p);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\n') {
      fields.push_back(field);
      field.clear();
      lines.push_back(fields);
      fields.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!lines.empty()) {
    csv.header = lines.front();
    csv.rows.assign(lines.begin() + 1, lines.end());
  }
  return csv;
}

}  // namespace fersweep::report::testing
