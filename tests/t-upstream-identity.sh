#!/bin/bash
# gen --xz-single against the legacy lines' own gen_kheaders.sh on real
# trees (6.1, 6.12, 5.10; in-tree and O=): see
# tests/lib/upstream-identity.sh. 7.3 is t-upstream-identity-7.3.
KH_IDENTITY_CASES="6.1-intree 6.12-intree 6.1-O 5.10-intree 5.10-O" \
KH_IDENTITY_SAN_CASES="6.1-O 5.10-intree 6.12-intree" \
	exec bash "$TOP/tests/lib/upstream-identity.sh"
