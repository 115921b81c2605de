SUMMARY = "installs the script with its paths filled in"
LICENSE = "MIT"

do_install() {
    sed -e 's,@SYSCONFDIR@,${sysconfdir},g' ${S}/health > ${D}${bindir}/health
}
