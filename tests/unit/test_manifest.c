/* test_manifest: the pieces of manifest/ alone.
 *
 * - path escaping matches libarchive's mtree writer (octal for space,
 *   '#', '=', '\', control and non-ASCII bytes) and round-trips;
 * - path normalisation ("include/x.h" and "./include/x.h/" are one);
 * - the writer's exact text for a hand-built manifest, and parse(format)
 *   giving back every entry, digest and fact; format(parse) the same
 *   bytes;
 * - the parser on mtree as bsdtar and mtree(8) write it (/set, /unset,
 *   classic relative entries, "..", continuation lines) and on bad
 *   input (line numbers in the message, a declared count that lies);
 * - tree facts from a Makefile, utsrelease.h and version.h;
 * - Myers against a brute-force LCS on random sequences: the marks
 *   describe a common subsequence, and a longest one;
 * - unified diff text against what GNU diff -u prints for known cases;
 * - verify: one moved entry is the only one reported out of order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_test.h"
#include "manifest/kh_diff.h"
#include "manifest/kh_facts.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"
#include "manifest/kh_myers.h"
#include "manifest/kh_verify.h"

static void test_escape(void)
{
	char *e = kh_mtree_escape("a b#c=d\\e\tf\xc3\xa9~!");
	char *u = e ? kh_mtree_unescape(e) : NULL;

	KH_CHECK_STR(e, "a\\040b\\043c\\075d\\134e\\011f\\303\\251~!");
	KH_CHECK_STR(u, "a b#c=d\\e\tf\xc3\xa9~!");
	free(e);
	free(u);
	/* libarchive's reader also knows C escapes and \s. */
	u = kh_mtree_unescape("x\\sy\\tz\\\\");
	KH_CHECK_STR(u, "x y\tz\\");
	free(u);
	/* A NUL would silently cut the name: refused. */
	KH_CHECK(kh_mtree_unescape("a\\000b") == NULL);
}

static void test_normpath(void)
{
	static const char *const cases[][2] = {
		{ "./", "." }, { ".", "." }, { "", "." }, { "/", "." },
		{ "include/x.h", "./include/x.h" },
		{ "./include/x.h", "./include/x.h" },
		{ "./include/", "./include" },
		{ "/abs/path//", "./abs/path" },
		{ "././a", "./a" },
		{ "..foo", "./..foo" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = kh_manifest_normpath(cases[i][0]);

		KH_CHECK_STR(n, cases[i][1]);
		free(n);
	}
}

static void add(struct kh_manifest *m, const char *path,
		enum kh_manifest_type type, unsigned mode, uint64_t size,
		const char *link, unsigned char fill)
{
	struct kh_manifest_entry e = KH_MANIFEST_ENTRY_INIT;
	struct kh_error err = KH_ERROR_INIT;

	e.path = strdup(path);
	e.type = type;
	e.mode = mode;
	e.mtime = 1234567890;
	e.keys = KH_MK_TYPE | KH_MK_MODE | KH_MK_UID | KH_MK_GID | KH_MK_TIME;
	if (type == KH_MANIFEST_FILE) {
		e.size = size;
		memset(e.sha256, fill, KH_SHA256_LEN);
		e.keys |= KH_MK_SIZE | KH_MK_SHA256;
	}
	if (link) {
		e.link = strdup(link);
		e.keys |= KH_MK_LINK;
	}
	KH_CHECK(kh_manifest_add(m, &e, &err) == 0);
	KH_CHECK(e.path == NULL);
}

static struct kh_manifest *sample(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = NULL;
	unsigned char sha[KH_SHA256_LEN];

	KH_CHECK(kh_manifest_new(&m, &err) == 0);
	add(m, ".", KH_MANIFEST_DIR, 0755, 0, NULL, 0);
	add(m, "./include", KH_MANIFEST_DIR, 0755, 0, NULL, 0);
	add(m, "./include/a b.h", KH_MANIFEST_FILE, 0644, 3, NULL, 0xab);
	add(m, "./include/l.h", KH_MANIFEST_LINK, 0644, 0, "../x y.h", 0);
	memset(sha, 0x11, sizeof(sha));
	kh_manifest_set_digest(m, KH_MANIFEST_TAR, sha, 10240);
	memset(sha, 0x22, sizeof(sha));
	kh_manifest_set_digest(m, KH_MANIFEST_ARCHIVE, sha, 300);
	KH_CHECK(kh_manifest_set_field(m, "tool", "kheaders test", &err) == 0);
	KH_CHECK(kh_manifest_set_field(m, "srcarch", "x86\nevil", &err) == 0);
	return m;
}

static const char sample_text[] =
	"#mtree\n"
	"# kheaders-manifest: 1\n"
	"# tool: kheaders test\n"
	"# srcarch: x86?evil\n"
	"# entries: 4\n"
	"# tar-sha256: 1111111111111111111111111111111111111111111111111111111111111111\n"
	"# tar-size: 10240\n"
	"# archive-sha256: 2222222222222222222222222222222222222222222222222222222222222222\n"
	"# archive-size: 300\n"
	". type=dir mode=0755 uid=0 gid=0 time=1234567890.0\n"
	"./include type=dir mode=0755 uid=0 gid=0 time=1234567890.0\n"
	"./include/a\\040b.h type=file mode=0644 uid=0 gid=0 size=3 "
	"time=1234567890.0 sha256digest="
	"abababababababababababababababababababababababababababababababab\n"
	"./include/l.h type=link mode=0644 uid=0 gid=0 time=1234567890.0 "
	"link=../x\\040y.h\n";

static void test_format_parse(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = sample(), *p = NULL;
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	KH_CHECK(kh_mtree_format(m, &text, &len, &err) == 0);
	KH_CHECK(text && len == strlen(sample_text) &&
		 !memcmp(text, sample_text, len));
	if (text && memcmp(text, sample_text, len))
		fprintf(stderr, "got:\n%.*s", (int)len, text);
	KH_CHECK(kh_mtree_parse(text, len, "t", &p, &err) == 0);
	if (p) {
		const struct kh_manifest_entry *e = kh_manifest_at(p, 2);

		KH_CHECK(kh_manifest_count(p) == 4);
		KH_CHECK_STR(e->path, "./include/a b.h");
		KH_CHECK(e->size == 3 && e->sha256[0] == 0xab &&
			 e->mode == 0644 && e->type == KH_MANIFEST_FILE);
		KH_CHECK_STR(kh_manifest_at(p, 3)->link, "../x y.h");
		KH_CHECK(kh_manifest_find(p, "./include/l.h") == 3);
		KH_CHECK(kh_manifest_find(p, "./nope") == -1);
		KH_CHECK(kh_manifest_digest(p, KH_MANIFEST_TAR)->known &&
			 kh_manifest_digest(p, KH_MANIFEST_TAR)->size == 10240);
		KH_CHECK_STR(kh_manifest_field(p, "tool"), "kheaders test");
		KH_CHECK(kh_mtree_format(p, &again, &len2, &err) == 0);
		KH_CHECK(again && len2 == len && !memcmp(again, text, len));
	}
	free(text);
	free(again);
	kh_manifest_free(m);
	kh_manifest_free(p);
}

/* As bsdtar --format=mtree and FreeBSD mtree(8) write it. */
static const char other_text[] =
	"#mtree\n"
	"/set type=file uid=0 gid=0 mode=644\n"
	".               type=dir mode=755\n"
	"    include     type=dir mode=755\n"
	"        a.h     size=3 \\\n"
	"                time=5.1 sha256digest=abababababababababababababababababababababababababababababababab\n"
	"        sub     type=dir mode=700\n"
	"            b.h size=0\n"
	"        ..\n"
	"        c.h     mode=600\n"
	"    ..\n"
	"/unset mode\n"
	"./full/path.h  nochange\n";

static void test_parse_other(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *p = NULL;
	static const char *const paths[] = {
		".", "./include", "./include/a.h", "./include/sub",
		"./include/sub/b.h", "./include/c.h", "./full/path.h",
	};

	KH_CHECK(kh_mtree_parse(other_text, strlen(other_text), "o", &p,
				   &err) == 0);
	if (!p) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	KH_CHECK(kh_manifest_count(p) == 7);
	for (size_t i = 0; i < 7 && i < kh_manifest_count(p); i++)
		KH_CHECK_STR(kh_manifest_at(p, i)->path, paths[i]);
	KH_CHECK(kh_manifest_at(p, 2)->mtime == 5 &&
		 kh_manifest_at(p, 2)->mtime_ns == 1);
	KH_CHECK(kh_manifest_at(p, 2)->keys & KH_MK_SHA256);
	KH_CHECK(kh_manifest_at(p, 5)->mode == 0600);
	KH_CHECK(kh_manifest_at(p, 4)->mode == 0644);
	KH_CHECK(!(kh_manifest_at(p, 6)->keys & KH_MK_MODE));
	KH_CHECK(kh_manifest_at(p, 6)->type == KH_MANIFEST_FILE);
	KH_CHECK(!kh_manifest_digest(p, KH_MANIFEST_TAR)->known);
	kh_manifest_free(p);
}

static void parse_fails(const char *text, const char *msg)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *p = NULL;

	KH_CHECK(kh_mtree_parse(text, strlen(text), "bad.mtree", &p,
				   &err) < 0);
	KH_CHECK(p == NULL);
	if (!strstr(err.msg, msg)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, msg);
		KH_CHECK(0);
	}
}

static void test_parse_errors(void)
{
	parse_fails("hello\n", "bad.mtree: not an mtree manifest");
	parse_fails("#mtree\n./a type=file\n./b mode=9\n",
		    "bad.mtree:3: bad mode '9'");
	parse_fails("#mtree\n./a type=door\n", "bad.mtree:2: unknown type");
	parse_fails("#mtree\n./a sha256digest=12\n",
		    "bad.mtree:2: bad sha256digest");
	parse_fails("#mtree\n# entries: 3\n./a type=file\n",
		    "says 3 entries but has 1");
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	KH_CHECK(fp != NULL);
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static void test_facts(void)
{
	char dir[] = "/tmp/kh-test-facts.XXXXXX", path[256];
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = NULL;
	char *opts[] = { "mtime=1234567890", "arch=x86", "strip=none",
			 "format=gnutar,record=10240",
			 "xz=preset6,crc64,single-stream", "stub-incbin=x",
			 "future=1" };
	struct kh_manifest_origin o = { dir, dir, opts, 7 };
	int fresh = -1;

	KH_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/Makefile", dir);
	write_file(path, "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\n"
		   "PATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION = -rc1 \n"
		   "NAME = Baby Opossum Posse\n");
	snprintf(path, sizeof(path), "%s/include", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/include/generated", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/include/generated/uapi", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/include/generated/uapi/linux", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/include/generated/utsrelease.h", dir);
	write_file(path, "#define UTS_RELEASE \"6.12.117-amd64\"\n");
	snprintf(path, sizeof(path),
		 "%s/include/generated/uapi/linux/version.h", dir);
	write_file(path, "#define LINUX_VERSION_CODE 396405\n"
		   "#define KERNEL_VERSION(a,b,c) (((a) << 16) + ((b) << 8) + "
		   "((c) > 255 ? 255 : (c)))\n");
	KH_CHECK(kh_manifest_new(&m, &err) == 0);
	KH_CHECK(kh_facts_describe(m, &o, &err) == 0);
	KH_CHECK_STR(kh_manifest_field(m, "kernel-version"), "6.12.117-rc1");
	KH_CHECK_STR(kh_manifest_field(m, "kernel-release"), "6.12.117-amd64");
	KH_CHECK_STR(kh_manifest_field(m, "linux-version-code"),
		     "396405 (6.12.117)");
	KH_CHECK_STR(kh_manifest_field(m, "srcarch"), "x86");
	KH_CHECK_STR(kh_manifest_field(m, "mtime"),
		     "@1234567890 (2009-02-13 23:31:30 UTC)");
	KH_CHECK_STR(kh_manifest_field(m, "compression"),
		     "xz preset6,crc64,single-stream");
	KH_CHECK_STR(kh_manifest_field(m, "option"), "future=1");
	/* facts_fresh: true for what describe writes, false once the
	 * Makefile's version moves. */
	{
		char *text = NULL;
		size_t len = 0;

		KH_CHECK(kh_mtree_format(m, &text, &len, &err) == 0);
		snprintf(path, sizeof(path), "%s/m.mtree", dir);
		write_file(path, text ? text : "");
		free(text);
	}
	KH_CHECK(kh_facts_fresh(path, &o, &fresh, &err) == 0 &&
		 fresh == 1);
	{
		char mk[256];

		snprintf(mk, sizeof(mk), "%s/Makefile", dir);
		write_file(mk, "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\n");
		KH_CHECK(kh_facts_fresh(path, &o, &fresh, &err) == 0
			 && fresh == 0);
		unlink(mk);
	}
	kh_manifest_free(m);
	/* No tree: every fact is "unknown", deterministically. */
	KH_CHECK(kh_manifest_new(&m, &err) == 0);
	KH_CHECK(kh_facts_describe(m, NULL, &err) == 0);
	KH_CHECK_STR(kh_manifest_field(m, "kernel-release"),
		     "unknown (read from an existing archive)");
	kh_manifest_free(m);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	KH_CHECK(system(path) == 0);
}

/* Longest common subsequence length, by dynamic programming. */
static size_t lcs(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
	size_t *row = calloc(m + 1, sizeof(*row)), best;

	for (size_t i = 1; i <= n; i++) {
		size_t diag = 0;

		for (size_t j = 1; j <= m; j++) {
			size_t up = row[j];

			row[j] = a[i - 1] == b[j - 1] ? diag + 1
				 : up > row[j - 1] ? up : row[j - 1];
			diag = up;
		}
	}
	best = row[m];
	free(row);
	return best;
}

static void test_myers(void)
{
	struct kh_error err = KH_ERROR_INIT;
	unsigned seed = 12345;
	int bad = 0;

	for (int round = 0; round < 3000; round++) {
		uint32_t a[64], b[64], ka[64], kb[64];
		unsigned char del[64], ins[64];
		size_t n, m, na = 0, nb = 0;
		unsigned alpha;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 8) % 40;
		seed = seed * 1103515245 + 12345;
		m = (seed >> 8) % 40;
		alpha = 2 + round % 6;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			a[i] = (seed >> 16) % alpha;
		}
		/* b: often an edit of a, sometimes unrelated. */
		for (size_t j = 0; j < m; j++) {
			seed = seed * 1103515245 + 12345;
			b[j] = (round & 1) && j < n && (seed >> 20) % 4 ? a[j]
			       : (seed >> 16) % alpha;
		}
		if (kh_myers(a, n, b, m, del, ins, &err) < 0) {
			bad++;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (!del[i])
				ka[na++] = a[i];
		for (size_t j = 0; j < m; j++)
			if (!ins[j])
				kb[nb++] = b[j];
		if (na != nb || memcmp(ka, kb, na * sizeof(*ka)) ||
		    na != lcs(a, n, b, m))
			bad++;
	}
	KH_CHECK(bad == 0);
}

static char *unified(const char *a, const char *b, int context)
{
	struct kh_error err = KH_ERROR_INIT;
	char *out = NULL;
	size_t len = 0;

	KH_CHECK(kh_diff_unified(a, strlen(a), b, strlen(b), "a/f", "b/f",
				 context, &out, &len, &err) == 0);
	return out;
}

static void test_unified(void)
{
	char *u;

	/* Expected texts are GNU diffutils 3.8 `diff -u` output, with
	 * the file names and dates taken off the ---/+++ lines. */
	u = unified("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
		    "a\nb\nC\nd\ne\nf\ng\nh\ni\nJ\nk\n", 3);
	KH_CHECK_STR(u, "--- a/f\n+++ b/f\n@@ -1,10 +1,11 @@\n a\n b\n-c\n+C\n"
		     " d\n e\n f\n g\n h\n i\n-j\n+J\n+k\n");
	free(u);
	u = unified("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
		    "1\n2\nx\n4\n5\n6\n7\n8\n9\n10\n11\ny\n", 2);
	KH_CHECK_STR(u, "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n 2\n-3\n+x\n"
		     " 4\n 5\n@@ -10,3 +10,3 @@\n 10\n 11\n-12\n+y\n");
	free(u);
	u = unified("", "new\n", 3);
	KH_CHECK_STR(u, "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+new\n");
	free(u);
	u = unified("x\ny", "x\ny\n", 3);
	KH_CHECK_STR(u, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n x\n-y\n"
		     "\\ No newline at end of file\n+y\n");
	free(u);
	u = unified("same\n", "same\n", 3);
	KH_CHECK_STR(u, "");
	free(u);
	{
		struct kh_error err = KH_ERROR_INIT;
		char *out = NULL;
		size_t len = 0;

		KH_CHECK(kh_diff_unified("a\0b", 3, "a\0c", 3, "a/f", "b/f", 3,
					 &out, &len, &err) == 0);
		KH_CHECK_STR(out, "Binary files a/f and b/f differ\n");
		free(out);
	}
}

static void test_verify_order(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *want = NULL, *got = NULL;
	struct kh_verify *v = NULL;
	static const char *const order[] = { "./a", "./b", "./c", "./d",
					     "./e" };
	static const char *const moved[] = { "./a", "./c", "./d", "./e",
					     "./b" };

	KH_CHECK(kh_manifest_new(&want, &err) == 0);
	KH_CHECK(kh_manifest_new(&got, &err) == 0);
	for (int i = 0; i < 5; i++) {
		add(want, order[i], KH_MANIFEST_FILE, 0644, 1, NULL, 1);
		add(got, moved[i], KH_MANIFEST_FILE, 0644, 1, NULL, 1);
	}
	KH_CHECK(kh_verify_compare(want, got, &v, &err) == 0);
	KH_CHECK(v && kh_verify_count(v) == 1);
	if (v && kh_verify_count(v) == 1) {
		KH_CHECK(kh_verify_at(v, 0)->kind == KH_VERIFY_ORDER);
		KH_CHECK_STR(kh_verify_at(v, 0)->path, "./b");
		KH_CHECK_STR(kh_verify_at(v, 0)->expected, "entry 2");
		KH_CHECK_STR(kh_verify_at(v, 0)->actual, "entry 5");
		KH_CHECK(kh_verify_verdict(v) == KH_VERIFY_ENTRIES);
		KH_CHECK(kh_verify_entries(v) == 1);
	}
	kh_verify_free(v);
	kh_manifest_free(want);
	kh_manifest_free(got);
}

KH_TEST_MAIN(test_escape, test_normpath, test_format_parse, test_parse_other,
	     test_parse_errors, test_facts, test_myers, test_unified,
	     test_verify_order)
