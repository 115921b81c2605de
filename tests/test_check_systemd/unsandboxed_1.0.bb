SUMMARY = "installs the unit with its paths filled in"
LICENSE = "MIT"

do_install() {
    sed -e 's,@BINDIR@,${bindir},g' ${S}/unsandboxed.service > ${D}${systemd_system_unitdir}/unsandboxed.service
}
