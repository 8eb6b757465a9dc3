# Installation: headers, both libraries, a CMake package (find_package(gccl)) and gccl.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS gccl EXPORT gcclTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES $<TARGET_FILE:gccl_static> DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/gccl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT gcclTargets NAMESPACE gccl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gccl)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/gcclConfig.cmake.in
  ${CMAKE_BINARY_DIR}/gcclConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gccl)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/gcclConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/gcclConfig.cmake ${CMAKE_BINARY_DIR}/gcclConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gccl)

# The .pc file finds the prefix relative to itself, so the install can be moved.
file(RELATIVE_PATH GCCL_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_CURRENT_LIST_DIR}/gccl.pc.in ${CMAKE_BINARY_DIR}/gccl.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/gccl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Python package (gccl, gccl.torch) where Debian's python3 looks under a prefix, three
# levels below the library: python/gccl/_capi.py finds libgccl.so there without GCCL_LIBRARY.
install(DIRECTORY python/gccl DESTINATION ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages
        PATTERN __pycache__ EXCLUDE)
