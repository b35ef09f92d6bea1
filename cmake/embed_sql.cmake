# Embeds the numbered migration files of sql/<service>/ into a generated C++ source, so that
# `cbdc-<service> migrate` works from any folder without the source tree.
# cbdc_embed_sql(TARGET SERVICE FUNCTION HEADER): FUNCTION (qualified, e.g.
# cbdc::issuer::migrations, declared in HEADER) returns the migrations of sql/SERVICE/ in
# file-name order.
function(cbdc_embed_sql target service function header)
  file(GLOB files CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/sql/${service}/*.sql")
  list(SORT files)
  # A changed file's contents, not only a new or removed file, must regenerate the source.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${service}_migrations.cpp")
  set(body "// Generated from sql/${service}/ by cmake/embed_sql.cmake. Do not edit.\n")
  string(APPEND body "#include \"${header}\"\n\n")
  string(APPEND body "auto ${function}() -> std::vector<cbdc::pg::migration> {\n  return {\n")
  foreach(f IN LISTS files)
    get_filename_component(name "${f}" NAME_WE)
    file(READ "${f}" sql)
    string(APPEND body "    {\"${name}\", R\"cbdcsql(${sql})cbdcsql\"},\n")
  endforeach()
  string(APPEND body "  };\n}\n")
  file(CONFIGURE OUTPUT "${out}" CONTENT "${body}" @ONLY)
  target_sources(${target} PRIVATE "${out}")
endfunction()
