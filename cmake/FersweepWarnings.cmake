# Warnings and sanitizers as INTERFACE targets, linked by every fersweep target.
add_library(fersweep_warnings INTERFACE)
target_compile_options(fersweep_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow=local
                                                   -Wnon-virtual-dtor -Wno-unused-parameter)

add_library(fersweep_sanitizers INTERFACE)
if(FERSWEEP_SANITIZE)
  target_compile_options(fersweep_sanitizers INTERFACE -fsanitize=address,undefined
                                                       -fno-omit-frame-pointer)
  target_link_options(fersweep_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
