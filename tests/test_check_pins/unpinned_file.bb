SUMMARY = "A remote file without a checksum"
LICENSE = "MIT"

SRC_URI = "\
    https://example.com/model.gguf;name=model \
    file://local.conf \
"
SRC_URI[model.md5sum] = "00000000000000000000000000000000"
