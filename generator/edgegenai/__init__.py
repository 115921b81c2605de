"""edgegenai: from one spec file to Yocto layers, kas configs and bootable images."""

__version__ = "0.1.0"
