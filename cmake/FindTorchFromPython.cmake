# Locates libtorch. Order: an explicit CMAKE_PREFIX_PATH / Torch_DIR (a libtorch the user
# already has), else the torch wheel of the project's venv (.venv), else python3 on PATH.
if(NOT Torch_DIR AND NOT DEFINED ENV{Torch_DIR})
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    set(_candidates "${CMAKE_CURRENT_SOURCE_DIR}/.venv/bin/python" python3)
    foreach(_py ${_candidates})
      execute_process(COMMAND ${_py} -c "import torch; print(torch.utils.cmake_prefix_path)"
        OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE _rc ERROR_QUIET)
      if(_rc EQUAL 0 AND _torch_prefix)
        list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
        message(STATUS "modelswarm: libtorch from ${_py}: ${_torch_prefix}")
        break()
      endif()
    endforeach()
  endif()
endif()
find_package(Torch REQUIRED)
if(TORCH_CXX_FLAGS)
  set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")
endif()

# The PyPI wheel ships its CUDA libraries in site-packages/nvidia/*/lib and finds them at run
# time through libtorch_cuda's own RPATH. At link time ld must be pointed there too, or it
# resolves libtorch_cuda's dependencies against older copies from the system CUDA toolkit.
file(GLOB MODELSWARM_TORCH_NVIDIA_LIBDIRS "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
function(modelswarm_link_torch_runtime target)
  foreach(_dir ${MODELSWARM_TORCH_NVIDIA_LIBDIRS})
    target_link_options(${target} INTERFACE "-Wl,-rpath-link,${_dir}")
  endforeach()
endfunction()
