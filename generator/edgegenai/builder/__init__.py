"""`edgegenai build`: run kas on the generated kas files and follow BitBake.

`host` checks the machine before hours are spent, `invocation` turns a
board, a release and option fragments into one kas command line and its
environment (shared downloads, sstate and hash-equivalence server the
BitBake way), `progress` reads BitBake's output into a live display, and
`artefacts` lists what the build left in the deploy directory.
"""
