#!/bin/sh
# deb post-install: register the pinhole:// handler with the desktop database.
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q /usr/share/applications || true
fi
