SUMMARY = "firmware whose vendor publishes md5 only"
LICENSE = "CLOSED"

# nooelint: oelint.vars.srcurichecksum - the vendor publishes md5 checksums only
SRC_URI = "https://example.com/fw.bin;name=fw"
SRC_URI[fw.md5sum] = "a9a80585a6733674e2ca158ec15971c4"
