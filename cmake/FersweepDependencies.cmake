# Every third-party dependency, found once, as imported targets.
find_package(Threads REQUIRED)
find_package(Torch REQUIRED)  # a CUDA LibTorch given through CMAKE_PREFIX_PATH works the same way
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs objdetect)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 and base64 (core/hash.h, core/base64.h)

# LibTorch's config hands out flags and a list of libraries rather than one clean target: wrap them.
add_library(fersweep_torch INTERFACE)
target_link_libraries(fersweep_torch INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_fersweep_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(fersweep_torch INTERFACE ${_fersweep_torch_flags})

# OpenCV's config defines imported targets per module (opencv_core, ...).
add_library(fersweep_opencv INTERFACE)
target_link_libraries(fersweep_opencv INTERFACE opencv_core opencv_imgproc opencv_imgcodecs opencv_objdetect)

# FindHDF5 gives hdf5::hdf5 and hdf5::hdf5_cpp on CMake >= 3.19.
add_library(fersweep_hdf5 INTERFACE)
if(TARGET hdf5::hdf5_cpp)
  target_link_libraries(fersweep_hdf5 INTERFACE hdf5::hdf5_cpp hdf5::hdf5)
else()
  target_include_directories(fersweep_hdf5 INTERFACE ${HDF5_INCLUDE_DIRS})
  target_link_libraries(fersweep_hdf5 INTERFACE ${HDF5_CXX_LIBRARIES} ${HDF5_LIBRARIES})
  target_compile_definitions(fersweep_hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()

if(TARGET yaml-cpp::yaml-cpp)
  set(FERSWEEP_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(FERSWEEP_YAML_TARGET yaml-cpp)
endif()

set(FERSWEEP_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python with Debian's torch/torchvision/h5py/pandas, used only by tests and benchmarks")
