# Fails when any C++ source under src/, tests/ or bench/ differs from .clang-format's layout.
# Usage: cmake -DCLANG_FORMAT=... -DROOT=... -P FormatCheck.cmake
file(GLOB_RECURSE sources ${ROOT}/src/*.cpp ${ROOT}/src/*.h ${ROOT}/tests/*.cpp ${ROOT}/tests/*.h
     ${ROOT}/bench/*.cpp ${ROOT}/bench/*.h)
set(bad "")
foreach(f ${sources})
  execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${f}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    file(RELATIVE_PATH rel ${ROOT} ${f})
    list(APPEND bad ${rel})
  endif()
endforeach()
list(LENGTH sources n)
if(bad)
  list(JOIN bad "\n  " listing)
  message(FATAL_ERROR "not clang-format clean (run scripts/format):\n  ${listing}")
endif()
message(STATUS "format check: ${n} files clean")
