# Installs the library, headers, tools, a CMake package (find_package(railcc CONFIG)) and a
# pkg-config file (railcc.pc).
include(CMakePackageConfigHelpers)

install(TARGETS railcc railcc_static EXPORT railccTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/railcc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/railcc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} OPTIONAL)
install(EXPORT railccTargets NAMESPACE railcc:: FILE railccTargets.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/railcc)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/railccConfig.cmake.in
  ${CMAKE_BINARY_DIR}/railccConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/railcc)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/railccConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/railccConfig.cmake ${CMAKE_BINARY_DIR}/railccConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/railcc)
configure_file(${PROJECT_SOURCE_DIR}/cmake/railcc.pc.in ${CMAKE_BINARY_DIR}/railcc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/railcc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
