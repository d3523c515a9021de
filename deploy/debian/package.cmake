# SPDX-License-Identifier: Apache-2.0
# The Debian package (CPack's DEB generator): `cpack -G DEB` in a build folder configured with
# -DCMAKE_INSTALL_PREFIX=/usr (deploy/package.sh does both, then runs lintian). It holds the
# binary (stripped), the systemd unit and sysusers entry, the configuration under /etc/ward
# (conffiles), the README, the licence and the third-party notices. The FIPS provider is not in
# it (Debian ships none): deploy/fips/build-provider.sh builds it on the host.
set(deb ${PROJECT_SOURCE_DIR}/deploy/debian)

install(TARGETS ward RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/ward.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/ward.sysusers.conf DESTINATION lib/sysusers.d RENAME ward.conf)
install(FILES ${deb}/ward.yaml ${PROJECT_SOURCE_DIR}/deploy/examples/banner.txt DESTINATION /etc/ward)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/deploy/THIRD-PARTY-NOTICES.md ${deb}/copyright
        DESTINATION share/doc/ward)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/examples/ward.yaml DESTINATION share/doc/ward/examples)
# The manual page, compressed likewise.
set(manual_gz ${CMAKE_CURRENT_BINARY_DIR}/ward.1.gz)
add_custom_command(OUTPUT ${manual_gz}
  COMMAND gzip -9nc ${deb}/ward.1 > ${manual_gz}
  DEPENDS ${deb}/ward.1 VERBATIM)
add_custom_target(ward_manual ALL DEPENDS ${manual_gz})
install(FILES ${manual_gz} DESTINATION share/man/man1)
# The changelog, compressed as Debian policy says (gzip -9n: no name, no time stamp).
set(changelog_gz ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${changelog_gz}
  COMMAND gzip -9nc ${deb}/changelog > ${changelog_gz}
  DEPENDS ${deb}/changelog VERBATIM)
add_custom_target(ward_changelog ALL DEPENDS ${changelog_gz})
install(FILES ${changelog_gz} DESTINATION share/doc/ward)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ward)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ward developers <ward@ward.test>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TLS-terminating security proxy for XMPP and SIP")
# (The summary is the synopsis line; this is the extended description, lines under 80.)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "ward accepts XMPP client, server and web-client (BOSH, WebSocket)\n\
connections and SIP over TLS, terminates TLS, enforces the operator's\n\
security settings (secure modes, the TLS peer subject list, TLS contexts\n\
and ciphers, FIPS, enhanced and Common Criteria modes) and hands plaintext\n\
streams to backends such as prosody or a SIP server on loopback. It speaks\n\
XMPP STARTTLS and SIP framing natively, and has an HTTPS admin API and\n\
console.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prosody")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${deb}/conffiles ${deb}/postinst ${deb}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
