/* test_tarw: kh_tarw_fix_longlink turns the "././@LongLink" header
 * libarchive writes into the one GNU tar 1.34 writes with --owner=0
 * --group=0 --numeric-owner, byte for byte, for both a long name ('L')
 * and a long symlink target ('K'), with a checksum valid by tar's rule;
 * and leaves every other block alone.
 *
 * Both headers are built here by hand, field by field, as observed in
 * `bsdtar --format gnutar` (libarchive 3.6.2) and GNU tar 1.34 output
 * for a 124-byte name and a 150-byte symlink target. The checksums
 * GNU tar wrote (007775 and 007773) are hard-coded as a cross-check of
 * the hand-built expected blocks.
 *
 * Then the writer as a whole: the entry offsets it reports (known as it
 * writes, never parsed back) are where the headers are, the LongLink
 * pseudo-headers of long names and long targets come out patched, and
 * what it records of each entry (kh_tarw_record) is what it wrote.
 */
#include <stdlib.h>

#include "gen/kh_tarw.h"
#include "kh_test.h"
#include "lib/kh_hash.h"

/* ustar/GNU header layout. */
enum {
	H_NAME = 0, H_MODE = 100, H_UID = 108, H_GID = 116, H_SIZE = 124,
	H_MTIME = 136, H_CHKSUM = 148, H_TYPE = 156, H_LINKNAME = 157,
	H_MAGIC = 257, H_UNAME = 265, H_GNAME = 297, H_DEVMAJOR = 329,
};

static void put(unsigned char *h, int off, const char *s, size_t n)
{
	memcpy(h + off, s, n);
}

/* tar's rule: the unsigned sum of all 512 bytes, the checksum field
 * counted as eight spaces. */
static unsigned tar_sum(const unsigned char *h)
{
	unsigned sum = 0;

	for (int i = 0; i < 512; i++)
		sum += (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
	return sum;
}

/* GNU tar's form: six octal digits, NUL, space. */
static void put_sum(unsigned char *h)
{
	char buf[9];

	snprintf(buf, sizeof(buf), "%06o", tar_sum(h) & 0777777);
	memcpy(h + H_CHKSUM, buf, 6);
	h[H_CHKSUM + 6] = '\0';
	h[H_CHKSUM + 7] = ' ';
}

/* Does the checksum field hold the right sum, in GNU tar's form? */
static int sum_ok(const unsigned char *h)
{
	unsigned v = 0;

	for (int i = 0; i < 6; i++) {
		if (h[H_CHKSUM + i] < '0' || h[H_CHKSUM + i] > '7')
			return 0;
		v = v * 8 + (h[H_CHKSUM + i] - '0');
	}
	return h[H_CHKSUM + 6] == '\0' && h[H_CHKSUM + 7] == ' ' &&
	       v == tar_sum(h);
}

/* The fields both writers agree on. */
static void longlink_common(unsigned char *h, char type, const char *size)
{
	memset(h, 0, 512);
	put(h, H_NAME, "././@LongLink", 13);
	put(h, H_UID, "0000000", 8);
	put(h, H_GID, "0000000", 8);
	put(h, H_SIZE, size, 12);
	put(h, H_MTIME, "00000000000", 12);
	h[H_TYPE] = (unsigned char)type;
	put(h, H_MAGIC, "ustar  ", 8);
}

/* As libarchive writes it: mode 0, root/wheel, and for 'K' the first
 * 100 bytes of the target in the link name. Its own checksum is in
 * libarchive's form, which the fix must replace anyway. */
static void libarchive_longlink(unsigned char *h, char type, const char *size,
				char link_fill)
{
	longlink_common(h, type, size);
	put(h, H_MODE, "0000000", 8);
	put(h, H_UNAME, "root", 4);
	put(h, H_GNAME, "wheel", 5);
	if (link_fill)
		memset(h + H_LINKNAME, link_fill, 100);
	put_sum(h);
}

/* As GNU tar writes it: mode 0644, no names, no link name. */
static void gnu_longlink(unsigned char *h, char type, const char *size)
{
	longlink_common(h, type, size);
	put(h, H_MODE, "0000644", 8);
	put_sum(h);
}

static int same(const unsigned char *a, const unsigned char *b)
{
	for (int i = 0; i < 512; i++) {
		if (a[i] != b[i]) {
			fprintf(stderr, "  first difference at byte %d: "
				"0x%02x, want 0x%02x\n", i, a[i], b[i]);
			return 0;
		}
	}
	return 1;
}

static void test_tarw_longname(void)
{
	unsigned char got[512], want[512];

	/* 124-byte name plus NUL: size 0175 octal. */
	libarchive_longlink(got, 'L', "00000000174", 0);
	gnu_longlink(want, 'L', "00000000174");
	KH_CHECK(!memcmp(want + H_CHKSUM, "007775\0 ", 8));
	KH_CHECK(memcmp(got, want, 512) != 0);
	kh_tarw_fix_longlink(got);
	KH_CHECK(same(got, want));
	KH_CHECK(sum_ok(got));
	KH_CHECK(!memcmp(got + H_MODE, "0000644", 8));
	/* Fixing twice changes nothing. */
	kh_tarw_fix_longlink(got);
	KH_CHECK(same(got, want));
}

static void test_tarw_longlink_target(void)
{
	unsigned char got[512], want[512];

	/* 150-byte target plus NUL: size 0227 octal. */
	libarchive_longlink(got, 'K', "00000000227", 't');
	gnu_longlink(want, 'K', "00000000227");
	KH_CHECK(!memcmp(want + H_CHKSUM, "007773\0 ", 8));
	kh_tarw_fix_longlink(got);
	KH_CHECK(same(got, want));
	KH_CHECK(sum_ok(got));
	for (int i = 0; i < 100; i++)
		if (got[H_LINKNAME + i]) {
			KH_CHECK(!"link name left in the K header");
			break;
		}
}

/* A checksum that needs all six digits' worth of high bytes still
 * comes out right (tar sums bytes as unsigned). */
static void test_tarw_checksum_rule(void)
{
	unsigned char h[512];

	libarchive_longlink(h, 'L', "00000000174", 0);
	memset(h + 345, 0xff, 155);   /* prefix field, untouched by the fix */
	kh_tarw_fix_longlink(h);
	KH_CHECK(sum_ok(h));
	KH_CHECK(tar_sum(h) > 0777);
}

static void test_tarw_untouched(void)
{
	unsigned char h[512], orig[512];

	/* A regular file header (libarchive's names and all). */
	memset(h, 0, 512);
	put(h, H_NAME, "./include/linux/a.h", 19);
	put(h, H_MODE, "0000644", 8);
	put(h, H_UID, "0000000", 8);
	put(h, H_GID, "0000000", 8);
	put(h, H_SIZE, "00000000002", 12);
	put(h, H_MTIME, "14276311165", 12);
	h[H_TYPE] = '0';
	put(h, H_LINKNAME, "x", 1);
	put(h, H_MAGIC, "ustar  ", 8);
	put(h, H_UNAME, "root", 4);
	put(h, H_GNAME, "wheel", 5);
	put_sum(h);
	memcpy(orig, h, 512);
	kh_tarw_fix_longlink(h);
	KH_CHECK(same(h, orig));

	/* A LongLink name with another type flag. */
	libarchive_longlink(h, '0', "00000000174", 0);
	memcpy(orig, h, 512);
	kh_tarw_fix_longlink(h);
	KH_CHECK(same(h, orig));

	/* A longer name that merely starts like it. */
	libarchive_longlink(h, 'L', "00000000174", 0);
	put(h, H_NAME, "././@LongLinkX", 14);
	memcpy(orig, h, 512);
	kh_tarw_fix_longlink(h);
	KH_CHECK(same(h, orig));

	/* A symlink whose target is "././@LongLink". */
	memcpy(h, orig, 512);
	memset(h + H_NAME, 0, 100);
	put(h, H_NAME, "./include/x.h", 13);
	h[H_TYPE] = '2';
	put(h, H_LINKNAME, "././@LongLink", 13);
	memcpy(orig, h, 512);
	kh_tarw_fix_longlink(h);
	KH_CHECK(same(h, orig));

	/* The end-of-archive and padding blocks. */
	memset(h, 0, 512);
	kh_tarw_fix_longlink(h);
	for (int i = 0; i < 512; i++)
		if (h[i]) {
			KH_CHECK(!"zero block changed");
			return;
		}
	KH_CHECK(1);
}

/* ---- the writer's stream ---- */

struct out {
	unsigned char *buf;
	size_t len, cap;
	uint64_t starts[32];
	size_t nstarts;
	uint64_t end;
	int ends;
};

static int out_write(void *ctx, const void *buf, size_t len,
		     struct kh_error *err)
{
	struct out *o = ctx;

	if (o->len + len > o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 65536;
		unsigned char *p;

		while (cap < o->len + len)
			cap *= 2;
		p = realloc(o->buf, cap);
		if (!p)
			return kh_error_set(err, KH_ENOMEM, NULL, "oom");
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return 0;
}

static void out_entry(void *ctx, uint64_t off, int end)
{
	struct out *o = ctx;

	/* Told before the bytes: nothing at or past off has come yet. */
	KH_CHECK(off >= o->len);
	if (end) {
		o->end = off;
		o->ends++;
	} else if (o->nstarts < 32) {
		o->starts[o->nstarts++] = off;
	}
}

static int all_zero(const unsigned char *p)
{
	for (int i = 0; i < 512; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint64_t octal(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}

/* Walk the stream as a tar reader does; check what the writer said
 * against it. */
static void check_stream(const struct out *o, size_t nentries)
{
	size_t at = 0, n = 0, longs = 0;
	int in_long = 0;

	while (at + 512 <= o->len && !all_zero(o->buf + at)) {
		const unsigned char *h = o->buf + at;
		int isl = !memcmp(h, "././@LongLink", 14) &&
			  (h[H_TYPE] == 'L' || h[H_TYPE] == 'K');

		if (!in_long) {
			KH_CHECK(n < o->nstarts && o->starts[n] == at);
			n++;
		}
		if (isl) {
			unsigned char want[512];

			/* Patched in flight: GNU tar's form. */
			gnu_longlink(want, (char)h[H_TYPE],
				     (const char *)h + H_SIZE);
			memcpy(want + H_SIZE, h + H_SIZE, 12);
			put_sum(want);
			KH_CHECK(same(h, want));
			longs++;
		}
		KH_CHECK(sum_ok(h) || !isl);
		in_long = isl;
		at += 512 + (octal(h + H_SIZE, 12) + 511) / 512 * 512;
	}
	KH_CHECK(n == nentries && o->nstarts == nentries);
	KH_CHECK(longs == 4);
	KH_CHECK(o->ends == 1 && o->end == at);
	KH_CHECK(o->len % KH_TAR_RECORD == 0);
}

static void test_tarw_stream(void)
{
	char lname[160], ltarget[200], lboth[160];
	unsigned char big[3000], sha[KH_SHA256_LEN];
	struct kh_error err = KH_ERROR_INIT;
	struct kh_record rec = KH_RECORD_INIT;
	struct out o = { 0 };
	struct kh_sink sink = { out_write, &o };
	struct kh_tarw *tw = NULL;
	int ret;

	snprintf(lname, sizeof(lname), "./include/%0120d.h", 7);
	memset(ltarget, 't', 150);
	ltarget[150] = '\0';
	snprintf(lboth, sizeof(lboth), "./include/%0110d-l.h", 9);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7);
	KH_CHECK(kh_tarw_new(sink, 1700000000, &tw, &err) == 0);
	if (!tw)
		return;
	kh_tarw_on_entry(tw, out_entry, &o);
	kh_tarw_record(tw, &rec);
	ret = kh_tarw_dir(tw, "./", &err);
	if (ret == 0)
		ret = kh_tarw_dir(tw, "./include/", &err);
	if (ret == 0)
		ret = kh_tarw_file(tw, "./include/a.h", "hello\n", 6, &err);
	if (ret == 0)
		ret = kh_tarw_file(tw, lname, big, sizeof(big), &err);
	if (ret == 0)
		ret = kh_tarw_symlink(tw, "./include/l.h", ltarget, &err);
	if (ret == 0)
		ret = kh_tarw_symlink(tw, lboth, ltarget, &err);
	if (ret == 0)
		ret = kh_tarw_file(tw, "./include/z.h", "", 0, &err);
	if (ret == 0)
		ret = kh_tarw_finish(tw, &err);
	KH_CHECK(ret == 0);
	KH_CHECK(kh_tarw_size(tw) == o.len);
	kh_tarw_free(tw);
	check_stream(&o, 7);

	/* The record: each entry as written. */
	KH_CHECK(rec.n == 7);
	if (rec.n == 7) {
		KH_CHECK_STR(rec.v[0].path, "./");
		KH_CHECK(rec.v[0].type == KH_RECORD_DIR &&
			 rec.v[0].mode == 0755);
		KH_CHECK(rec.v[2].type == KH_RECORD_FILE &&
			 rec.v[2].size == 6 && rec.v[2].mode == 0644 &&
			 rec.v[2].mtime == 1700000000 && rec.v[2].uid == 0);
		KH_CHECK(kh_hash_sha256("hello\n", 6, sha, &err) == 0);
		KH_CHECK(!memcmp(rec.v[2].sha256, sha, sizeof(sha)));
		KH_CHECK_STR(rec.v[3].path, lname);
		KH_CHECK(kh_hash_sha256(big, sizeof(big), sha, &err) == 0);
		KH_CHECK(!memcmp(rec.v[3].sha256, sha, sizeof(sha)) &&
			 rec.v[3].size == sizeof(big));
		KH_CHECK(rec.v[4].type == KH_RECORD_SYMLINK);
		KH_CHECK_STR(rec.v[4].link, ltarget);
		KH_CHECK_STR(rec.v[5].path, lboth);
		KH_CHECK(rec.v[6].size == 0);
		KH_CHECK(kh_hash_sha256("", 0, sha, &err) == 0);
		KH_CHECK(!memcmp(rec.v[6].sha256, sha, sizeof(sha)));
	}
	kh_record_release(&rec);
	free(o.buf);
}

KH_TEST_MAIN(test_tarw_longname, test_tarw_longlink_target,
	     test_tarw_checksum_rule, test_tarw_untouched,
	     test_tarw_stream)
