#!/bin/bash
# gen --xz-single against 7.3's own rules (the mainline design) on real
# trees, in-tree and O=: see tests/lib/upstream-identity.sh.
KH_IDENTITY_CASES="7.3-intree 7.3-O" KH_IDENTITY_SAN_CASES="7.3-intree" \
	exec bash "$TOP/tests/lib/upstream-identity.sh"
