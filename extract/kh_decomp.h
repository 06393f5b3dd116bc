/* kh_decomp: one compressed stream decoded into memory, bounded.
 *
 * The compression half of kh_payload: given where a stream starts and
 * which compression its magic names, decode it with that library into
 * a buffer that grows, doubling, to at most max + 1 bytes (the one byte
 * more shows a bomb, refused as soon as it passes the limit). Where the
 * stream is in a kernel image (the bzImage and zboot headers, the scan)
 * is kh_payload's business, not this module's.
 *
 * gzip, bzip2, xz, lzma and zstd are streaming libraries and share one
 * loop (make room, one step, count what moved, refuse a step that moves
 * nothing); lz4 legacy frames and lzop are block formats the module
 * walks itself. Messages are whole ("FILE: <what>: why"), with what
 * naming the stream ("bzImage xz payload at offset 16384").
 */
#ifndef KH_DECOMP_H
#define KH_DECOMP_H

#include <stddef.h>

#include "extract/kh_payload.h"
#include "lib/kh_error.h"

/* One decompression: the input, the growing output, what messages say.
 * The caller fills name, what, in, len, open_end, max and err (the rest
 * zero), runs kh_decomp_run, and owns out afterwards either way. */
struct kh_decomp_job {
	const char *name;       /* the file, for messages */
	char what[96];          /* "bzImage xz payload at offset 16384" */
	const unsigned char *in;
	size_t len;             /* input bytes the payload may use */
	size_t used;            /* input bytes the decoder consumed */
	int open_end;           /* scan: the payload's end is not known */
	int hard;               /* a failure a scan must not pass over */
	unsigned char *out;
	size_t olen, ocap;
	size_t max;             /* refuse output past this */
	struct kh_error *err;
};

/* Is a stream of comp at p (n bytes on) plausible beyond its magic?
 * Cheap checks that keep a scan from trying every "BZh" or 5d 00 00 in
 * an image. */
int kh_decomp_plausible(enum kh_payload_comp comp, const unsigned char *p,
			size_t n);

/* Decode the job's input as comp: 0, or a negative code with *j->err
 * set (and j->hard for a failure a scan must not pass over: out of
 * memory, the output limit). j->used and j->olen say how far it got. */
int kh_decomp_run(struct kh_decomp_job *j, enum kh_payload_comp comp);

#endif
