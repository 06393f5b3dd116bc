# Sourced by tests/golden-update and tests/t-golden.sh: how each golden
# output is made, so that the update and the check can never disagree.
# golden_cases prints "NAME|ARGS" lines; ARGS are kheaders gen options
# relative to the repository top.
GOLDEN_SAMPLE=golden/sample
GOLDEN_MTIME="Fri Feb 13 23:31:30 UTC 2009"
golden_cases() {
	local s=$GOLDEN_SAMPLE
	echo "kheaders_data|--srctree $s/src --objtree $s/obj --arch x86"
	echo "kheaders_data-nostrip|--srctree $s/src --objtree $s/obj --arch x86 --no-strip"
	echo "kheaders_data-intree|--srctree $s/src --objtree $s/src --arch x86"
	# Upstream's single xz stream (the default is blocks).
	echo "kheaders_data-single|--srctree $s/src --objtree $s/obj --arch x86 --xz-single"
}
