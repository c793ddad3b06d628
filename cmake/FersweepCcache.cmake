# Use ccache when present. The sloppiness settings let it cache translation units built with a PCH;
# base_dir makes paths relative, so another clone of the repository (CI's) hits the same cache.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime,file_macro
      CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1
      ${CCACHE_PROGRAM})
  message(STATUS "fersweep: compiling through ccache (${CCACHE_PROGRAM})")
endif()
