// Version of fersweep and of the libraries it was built with.
#pragma once

#include <string>

namespace fersweep {

/// fersweep's own version ("0.1.0+g<describe>" from a git checkout).
std::string version();
/// LibTorch version string it was compiled against, e.g. "1.13.1".
std::string torch_version();
/// Multi-line banner for `--version`: fersweep and LibTorch, OpenCV, Open MPI, HDF5 versions.
std::string version_banner();

}  // namespace fersweep
