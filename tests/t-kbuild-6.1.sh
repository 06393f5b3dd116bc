#!/bin/bash
# The kernel's own build with kheaders on a real 6.1 tree: see
# tests/lib/kbuild-lines.sh, which every line's test shares.
# The refusals of unknown rules run here too.
KH_KBUILD_LINES=6.1 KH_KBUILD_REFUSALS=1 exec bash "$TOP/tests/lib/kbuild-lines.sh"
