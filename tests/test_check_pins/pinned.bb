SUMMARY = "Pinned sources"
LICENSE = "MIT"

SRC_URI = "\
    git://example.com/x.git;protocol=https;branch=main;name=x \
    git://example.com/y.git;protocol=https;nobranch=1;name=y;destsuffix=y \
    https://example.com/model.gguf;name=model \
    file://local.conf \
"
SRCREV_x = "0123456789abcdef0123456789abcdef01234567"
SRCREV_y = "89abcdef0123456789abcdef0123456789abcdef"
SRC_URI[model.sha256sum] = "16c7f1667fea34bacad196a57b548effcb37614db4ab5677a20c8c7b823b9e63"
