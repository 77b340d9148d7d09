# weft.torch: the torch.distributed backend (bindings/python/csrc/weft_torch.cpp,
# docs/torch.md), a Python extension module built against the libtorch of
# WEFT_PYTHON (Debian: python3-torch libtorch-dev pybind11-dev). AUTO builds it
# when that interpreter imports torch and the headers are there; ON makes
# their absence an error. Never under the sanitizers: an ASan module cannot be
# loaded into an uninstrumented interpreter. The module lands next to
# libweft.so in the build tree, where weft.torch looks for it.
set(WEFT_TORCH AUTO CACHE STRING "Build the torch.distributed backend weft.torch (AUTO, ON, OFF)")
set(WEFT_PYTHON /usr/bin/python3 CACHE FILEPATH "The Python interpreter whose torch weft.torch is built for")

set(WEFT_TORCH_BUILT FALSE)
if(WEFT_TORCH STREQUAL "OFF")
  return()
endif()
if(WEFT_SANITIZE)
  message(STATUS "weft.torch: not built under WEFT_SANITIZE")
  return()
endif()

# What torch.utils.cpp_extension would use, without importing it (it looks
# for CUDA and prints about it).
set(weft_torch_probe [=[
import os, sysconfig, torch, torch._C as C
root = os.path.dirname(torch.__file__)
print(";".join([
    os.path.join(root, "include"),
    os.path.join(root, "include", "torch", "csrc", "api", "include"),
    os.path.join(root, "lib"),
    sysconfig.get_paths()["include"],
    sysconfig.get_config_var("EXT_SUFFIX"),
    "1" if C._GLIBCXX_USE_CXX11_ABI else "0",
    C._PYBIND11_COMPILER_TYPE, C._PYBIND11_STDLIB, C._PYBIND11_BUILD_ABI,
    torch.__version__]))
]=])
set(weft_torch_why "")
if(NOT EXISTS ${WEFT_PYTHON})
  set(weft_torch_why "no ${WEFT_PYTHON}")
else()
  execute_process(COMMAND ${WEFT_PYTHON} -c "${weft_torch_probe}" RESULT_VARIABLE rc
    OUTPUT_VARIABLE probe ERROR_VARIABLE probe_err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    set(weft_torch_why "${WEFT_PYTHON} cannot import torch (apt-get install python3-torch libtorch-dev)")
  else()
    list(GET probe 0 weft_torch_inc)
    list(GET probe 1 weft_torch_api_inc)
    list(GET probe 2 weft_torch_libdir)
    list(GET probe 3 weft_py_inc)
    list(GET probe 4 weft_ext_suffix)
    list(GET probe 5 weft_torch_cxx11_abi)
    list(GET probe 6 weft_pyb_compiler)
    list(GET probe 7 weft_pyb_stdlib)
    list(GET probe 8 weft_pyb_abi)
    list(GET probe 9 weft_torch_version)
    if(NOT EXISTS ${weft_torch_inc}/torch/csrc/distributed/c10d/ProcessGroup.hpp)
      set(weft_torch_why "no c10d headers under ${weft_torch_inc} (apt-get install libtorch-dev)")
    elseif(NOT EXISTS ${weft_py_inc}/Python.h)
      set(weft_torch_why "no Python.h in ${weft_py_inc} (apt-get install python3-dev)")
    else()
      find_path(WEFT_PYBIND11_INCLUDE pybind11/pybind11.h HINTS ${weft_torch_inc})
      if(NOT WEFT_PYBIND11_INCLUDE)
        set(weft_torch_why "no pybind11 headers (apt-get install pybind11-dev)")
      endif()
    endif()
  endif()
endif()
if(weft_torch_why)
  if(WEFT_TORCH STREQUAL "ON")
    message(FATAL_ERROR "WEFT_TORCH=ON but: ${weft_torch_why}")
  endif()
  message(STATUS "weft.torch: no (${weft_torch_why})")
  return()
endif()

enable_language(CXX)
find_library(WEFT_TORCH_LIB_torch torch HINTS ${weft_torch_libdir} REQUIRED)
find_library(WEFT_TORCH_LIB_torch_cpu torch_cpu HINTS ${weft_torch_libdir} REQUIRED)
find_library(WEFT_TORCH_LIB_torch_python torch_python HINTS ${weft_torch_libdir} REQUIRED)
find_library(WEFT_TORCH_LIB_c10 c10 HINTS ${weft_torch_libdir} REQUIRED)

add_library(weft_torch MODULE ${PROJECT_SOURCE_DIR}/bindings/python/csrc/weft_torch.cpp)
set_target_properties(weft_torch PROPERTIES
  OUTPUT_NAME _weft_torch PREFIX "" SUFFIX "${weft_ext_suffix}"
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}
  CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF
  CXX_VISIBILITY_PRESET hidden)
# torch's and Python's headers are not ours to keep warning-free
target_include_directories(weft_torch SYSTEM PRIVATE ${weft_torch_inc} ${weft_torch_api_inc} ${weft_py_inc}
  ${WEFT_PYBIND11_INCLUDE})
# The pybind11 ABI tags must be torch's own, or ProcessGroup and Store would
# be unknown types to this module (and to clang builds).
target_compile_definitions(weft_torch PRIVATE
  _GLIBCXX_USE_CXX11_ABI=${weft_torch_cxx11_abi} TORCH_EXTENSION_NAME=_weft_torch TORCH_API_INCLUDE_EXTENSION_H
  PYBIND11_COMPILER_TYPE="${weft_pyb_compiler}" PYBIND11_STDLIB="${weft_pyb_stdlib}"
  PYBIND11_BUILD_ABI="${weft_pyb_abi}")
# -O1 compiles the template-heavy headers in half the time of -O3 and the
# data path is libweft's anyway.
target_compile_options(weft_torch PRIVATE -O1)
target_link_libraries(weft_torch PRIVATE weft ${WEFT_TORCH_LIB_torch} ${WEFT_TORCH_LIB_torch_cpu}
  ${WEFT_TORCH_LIB_torch_python} ${WEFT_TORCH_LIB_c10})
set(WEFT_TORCH_BUILT TRUE)
message(STATUS "weft.torch: yes (torch ${weft_torch_version}, ${WEFT_PYTHON})")
