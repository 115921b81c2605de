SUMMARY = "firmware pinned by md5 without saying why"
LICENSE = "CLOSED"

SRC_URI = "https://example.com/fw.bin;name=fw"
SRC_URI[fw.md5sum] = "a9a80585a6733674e2ca158ec15971c4"
