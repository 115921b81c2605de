SUMMARY = "inherits a class no layer has"
LICENSE = "MIT"

inherit edgegenai_no_such_class
