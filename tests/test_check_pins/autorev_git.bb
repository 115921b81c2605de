SUMMARY = "A recipe that floats"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=00000000000000000000000000000000"

SRC_URI = "git://example.com/float.git;protocol=https"
SRCREV = "${AUTOREV}"

do_compile[network] = "1"
