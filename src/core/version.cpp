// Version banner: compile-time versions of the libraries fersweep links.
#include "core/version.h"

#include <H5public.h>
#include <fmt/format.h>
#include <mpi.h>
#include <torch/version.h>

#include <opencv2/core/version.hpp>

#include "core/version_info.h"

namespace fersweep {

std::string version() {
  return FERSWEEP_VERSION;
}

std::string torch_version() {
  return TORCH_VERSION;
}

std::string version_banner() {
  std::string mpi;
#if defined(OMPI_MAJOR_VERSION)
  mpi = fmt::format("Open MPI {}.{}.{}", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION,
                    OMPI_RELEASE_VERSION);
#else
  mpi = fmt::format("MPI standard {}.{}", MPI_VERSION, MPI_SUBVERSION);
#endif
  return fmt::format(
      "fersweep {} ({} build)\n"
      "  LibTorch {}\n"
      "  OpenCV   {}\n"
      "  MPI      {}\n"
      "  HDF5     {}.{}.{}\n",
      FERSWEEP_VERSION, FERSWEEP_BUILD_TYPE, TORCH_VERSION, CV_VERSION, mpi, H5_VERS_MAJOR,
      H5_VERS_MINOR, H5_VERS_RELEASE);
}

}  // namespace fersweep
