# What `cmake --install build --prefix P` installs (docs/library.md):
#   P/bin/weir                          the command
#   P/lib/libweir_*.a                   the engine's libraries, static (no ABI promise before 1.0)
#   P/include/weir/...                  the public headers, and nothing of the runtime's internals
#   P/lib/cmake/weir/                   find_package(weir 0.N): weir::engine and its dependencies
#   P/lib/pkgconfig/weir.pc             the same for pkg-config
#   P/share/weir/config/                the default configuration
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS weir RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The engine and the libraries below it, in link order (users link weir::engine).
set(WEIR_INSTALLED_LIBRARIES weir_test_driver weir_engine weir_engine_http weir_engine_runtime weir_engine_kafka
    weir_engine_metrics weir_engine_dsl weir_engine_processor weir_stores weir_http_client
    weir_common)
install(TARGETS ${WEIR_INSTALLED_LIBRARIES} EXPORT weirTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT weirTargets NAMESPACE weir:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weir)

# The public headers: every engine header outside an internal/ folder, and the headers of common/
# and stores/ they include (tests/install_test.sh compiles them all against the prefix alone, so
# a public header reaching one not listed here fails the suite).
file(GLOB_RECURSE WEIR_ENGINE_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}
     ${PROJECT_SOURCE_DIR}/engine/*.h)
list(FILTER WEIR_ENGINE_HEADERS EXCLUDE REGEX "/internal/")
set(WEIR_PUBLIC_HEADERS ${WEIR_ENGINE_HEADERS}
    common/byte_order.h common/check.h common/config_schema.h common/sensor.h
    stores/key_value_store.h stores/key_value_store_options.h stores/state_store.h
    stores/store_statistics.h stores/value_and_timestamp.h stores/window_store.h)
foreach(header IN LISTS WEIR_PUBLIC_HEADERS)
  get_filename_component(folder ${header} DIRECTORY)
  install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weir/${folder})
endforeach()

install(DIRECTORY config/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weir/config)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/weirConfig.cmake.in ${CMAKE_BINARY_DIR}/weirConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weir)
# 0.x: a minor version may change the public headers (docs/library.md), so only the same
# minor version satisfies find_package(weir 0.N).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/weirConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/weirConfig.cmake ${CMAKE_BINARY_DIR}/weirConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weir)
# Relocatable: the prefix is found from the .pc file's own place.
file(RELATIVE_PATH WEIR_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_CURRENT_LIST_DIR}/weir.pc.in ${CMAKE_BINARY_DIR}/weir.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/weir.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
