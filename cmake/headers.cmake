# Include paths per target, never global (STYLE.md), so that the build keeps the dependency
# rules of docs/architecture.md: code finds another folder's header only when it links a target
# that lists that header as public.
#
# cbdc_headers(TARGET [OWN] PUBLIC h1.hpp h2.hpp ...)
#   PUBLIC: the headers of the current folder that the target offers to the targets linking it,
#   included as "<folder>/h1.hpp" (folder relative to the repository root, e.g. "settlement" or
#   "tests/support"). They are symbolic links under the build tree's include/TARGET/, so an
#   error message names them there; the file edited is the one in the folder.
#   OWN: the target's own sources (and only they) see every header of their folder: its
#   implementation's internals. A client library leaves OWN out and so compiles against its
#   public headers alone.
function(cbdc_headers target)
  cmake_parse_arguments(H "OWN" "" "PUBLIC" ${ARGN})
  file(RELATIVE_PATH folder "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}")
  set(public_root "${PROJECT_BINARY_DIR}/include/${target}")
  file(REMOVE_RECURSE "${public_root}")
  file(MAKE_DIRECTORY "${public_root}/${folder}")
  foreach(header IN LISTS H_PUBLIC)
    if(NOT EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${header}")
      message(FATAL_ERROR "cbdc_headers(${target}): no ${folder}/${header}")
    endif()
    get_filename_component(sub "${header}" DIRECTORY)
    file(MAKE_DIRECTORY "${public_root}/${folder}/${sub}")
    file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}/${header}" "${public_root}/${folder}/${header}"
         SYMBOLIC)
  endforeach()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE "${public_root}")
  else()
    target_include_directories(${target} PUBLIC "${public_root}")
  endif()
  if(H_OWN)
    cbdc_own_headers(${target})
  endif()
endfunction()

# cbdc_own_headers(TARGET): TARGET's sources see every header of the current folder as
# "<folder>/x.hpp" (a daemon's main, a library's internals); nothing that links TARGET does.
function(cbdc_own_headers target)
  file(RELATIVE_PATH folder "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}")
  set(own_root "${PROJECT_BINARY_DIR}/include/${target}.own")
  get_filename_component(parent "${own_root}/${folder}" DIRECTORY)
  file(MAKE_DIRECTORY "${parent}")
  if(NOT IS_SYMLINK "${own_root}/${folder}")
    file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}" "${own_root}/${folder}" SYMBOLIC)
  endif()
  target_include_directories(${target} PRIVATE "${own_root}")
endfunction()
