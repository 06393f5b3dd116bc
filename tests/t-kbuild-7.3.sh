#!/bin/bash
# The kernel's own build with kheaders on a real 7.3 tree: see
# tests/lib/kbuild-lines.sh, which every line's test shares.
KH_KBUILD_LINES=7.3 exec bash "$TOP/tests/lib/kbuild-lines.sh"
