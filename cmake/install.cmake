# Installs the library, headers, tools, a CMake package (find_package(railcc CONFIG)) and a
# pkg-config file (railcc.pc).
include(CMakePackageConfigHelpers)

install(TARGETS railcc railcc_static EXPORT railccTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
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

# railcc.pc must name the prefix the files actually land in, which `cmake --install --prefix P`
# chooses only at install time; configuring it with the configure-time CMAKE_INSTALL_PREFIX would
# point consumers at /usr/local. So it is written in two steps: now with every value but the
# prefix, which stays a placeholder, then by the install script, where CMAKE_INSTALL_PREFIX is the
# real one (without DESTDIR, as a staged package needs). The second copy goes to a directory per
# prefix, so two installs of one build tree to different prefixes cannot swap files.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(RAILCC_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(RAILCC_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(railcc_pc_destination "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  set(railcc_pc_destination "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
set(RAILCC_PC_PREFIX "@RAILCC_INSTALL_PREFIX@")
# Built with CUDA: static consumers also link the CUDA runtime the library was built with.
set(RAILCC_PC_CUDA_LIBS "")
if(RAILCC_HAVE_CUDA)
  set(RAILCC_PC_CUDA_LIBS "-L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/railcc.pc.in ${CMAKE_BINARY_DIR}/railcc.pc.template
  @ONLY)
install(CODE "
  set(RAILCC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  string(MD5 railcc_pc_key \"\${CMAKE_INSTALL_PREFIX}\")
  set(railcc_pc_dir \"${CMAKE_BINARY_DIR}/pkgconfig-\${railcc_pc_key}\")
  configure_file(\"${CMAKE_BINARY_DIR}/railcc.pc.template\" \"\${railcc_pc_dir}/railcc.pc\" @ONLY)
  file(INSTALL DESTINATION \"${railcc_pc_destination}\" TYPE FILE FILES
    \"\${railcc_pc_dir}/railcc.pc\")
  file(REMOVE_RECURSE \"\${railcc_pc_dir}\")
")
