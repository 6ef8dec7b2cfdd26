"""The installed version of gradlab (tagged on every run)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gradlab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"
