/* cmd_diff: `kheaders diff A B`, how two archives or manifests differ:
 * a line per change, then a summary line of counts; --stat prints the
 * counts only, --json the same for machines, -u unified diffs of the
 * changed headers. Exit status as diff(1): 0 same, 1 different,
 * 2 trouble. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/kh_cli.h"
#include "extract/kh_source.h"
#include "lib/kh_hash.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_diff.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

#define KH_DIFF_CONTEXT 3

static const char kh_diff_usage[] =
	"Usage: kheaders diff [OPTION]... A B\n"
	"Compare two headers archives, or their manifests (each of A and B\n"
	"may be either: an mtree manifest is recognised by its #mtree line;\n"
	"anything else is read as an archive, '-' is standard input).\n"
	"Entries are matched by archive path, so archives of different trees,\n"
	"versions and architectures compare cleanly. Reported, one per line:\n"
	"\n"
	"  added    PATH            only in B (directories end in '/')\n"
	"  removed  PATH            only in A\n"
	"  changed  PATH            a regular file whose content differs\n"
	"  mode     PATH A -> B     permission bits\n"
	"  type     PATH A -> B     file, dir, link...\n"
	"  link     PATH A -> B     symlink target\n"
	"\n"
	"then 'N added, N removed, N changed, N mode, N type, N link'. Paths\n"
	"are escaped as in a manifest (\\040 for a space). mtime, uid and gid\n"
	"are not compared (`kheaders verify` checks those).\n"
	"\n"
	"      --stat          print the summary line only\n"
	"      --json          print the changes as JSON (kheaders(1))\n"
	"  -u                  also print unified diffs of the changed\n"
	"                      headers (A and B must be archives); computed\n"
	"                      in-process, labelled a/PATH and b/PATH\n"
	"  -U N                as -u, with N lines of context (default 3)\n"
	"  -q, --quiet         print nothing; the exit status tells\n"
	"  -h, --help          show this help and exit\n"
	"\n"
	"Exit status: 0 same, 1 different, 2 trouble.\n";

enum {
	KH_DOPT_STAT = 256,
	KH_DOPT_JSON,
};

static const struct option kh_diff_longopts[] = {
	{ "stat", no_argument, NULL, KH_DOPT_STAT },
	{ "json", no_argument, NULL, KH_DOPT_JSON },
	{ "unified", no_argument, NULL, 'u' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kh_diff_cli {
	const char *a, *b;
	int stat, json, quiet;
	int context;             /* -1 without -u */
};

static int kh_diff_bad(const char *fmt, const char *arg)
{
	kh_cli_usage("diff", fmt, arg);
	return KH_EXIT_TROUBLE;
}

static int kh_diff_parse(int argc, char **argv, struct kh_diff_cli *c)
{
	char *end;
	long n;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":uU:qh", kh_diff_longopts,
				  NULL)) != -1) {
		switch (opt) {
		case KH_DOPT_STAT: c->stat = 1; break;
		case KH_DOPT_JSON: c->json = 1; break;
		case 'u': c->context = KH_DIFF_CONTEXT; break;
		case 'U':
			n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 0 || n > 1000000)
				return kh_diff_bad("-U wants a number of "
						   "lines, not '%s'", optarg);
			c->context = (int)n;
			break;
		case 'q': c->quiet = 1; break;
		case 'h':
			fputs(kh_diff_usage, stdout);
			return KH_EXIT_OK;
		default:
			kh_cli_bad_option("diff", opt, argv);
			return KH_EXIT_TROUBLE;
		}
	}
	if (argc - optind < 2)
		return kh_diff_bad("two archives or manifests, please%s", "");
	if (argc - optind > 2)
		return kh_diff_bad("unexpected argument '%s'",
				   argv[optind + 2]);
	c->a = argv[optind];
	c->b = argv[optind + 1];
	if (c->context >= 0 && (c->stat || c->json))
		return kh_diff_bad("-u does not go with --stat or --json%s",
				   "");
	return -1;
}

static void kh_diff_print_path(const char *path)
{
	char *e = kh_mtree_escape(path);

	fputs(e ? e : path, stdout);
	free(e);
}

static const char *kh_diff_mode(unsigned mode, char *buf, size_t size)
{
	snprintf(buf, size, "%04o", mode);
	return buf;
}

static void kh_diff_print_change(const struct kh_diff_change *ch)
{
	char ma[16], mb[16];

	printf("%-8s ", kh_diff_kind_name(ch->kind));
	kh_diff_print_path(ch->path);
	switch (ch->kind) {
	case KH_DIFF_ADDED:
	case KH_DIFF_REMOVED: {
		const struct kh_manifest_entry *e = ch->a ? ch->a : ch->b;

		if (e->type == KH_MANIFEST_DIR && strcmp(e->path, "."))
			fputc('/', stdout);
		break;
	}
	case KH_DIFF_MODE:
		printf(" %s -> %s", kh_diff_mode(ch->a->mode, ma, sizeof(ma)),
		       kh_diff_mode(ch->b->mode, mb, sizeof(mb)));
		break;
	case KH_DIFF_TYPE:
		printf(" %s -> %s", kh_manifest_type_name(ch->a->type),
		       kh_manifest_type_name(ch->b->type));
		break;
	case KH_DIFF_LINK:
		fputc(' ', stdout);
		kh_diff_print_path(ch->a->link);
		fputs(" -> ", stdout);
		kh_diff_print_path(ch->b->link);
		break;
	default:
		break;
	}
	fputc('\n', stdout);
}

static void kh_diff_print_summary(const struct kh_diff *d)
{
	for (int k = 0; k < KH_DIFF_NKINDS; k++)
		printf("%s%zu %s", k ? ", " : "",
		       kh_diff_count_kind(d, (enum kh_diff_kind)k),
		       kh_diff_kind_name((enum kh_diff_kind)k));
	fputc('\n', stdout);
}

/* ---- JSON ---- */

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t kh_diff_utf8(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3
		 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string. Paths are bytes: valid UTF-8 passes through, any
 * other byte becomes \u00XX (so the string stays valid JSON). */
static void kh_diff_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', stdout);
	while (*p) {
		size_t n = *p >= 0x80 ? kh_diff_utf8(p) : 1;

		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f || n == 0) {
			printf("\\u%04x", *p);
			n = 1;
		} else {
			fwrite(p, 1, n, stdout);
		}
		p += n;
	}
	fputc('"', stdout);
}

static void kh_diff_json_side(const struct kh_manifest_entry *e)
{
	char hex[2 * KH_SHA256_LEN + 1];

	printf("{\"size\": %llu", (unsigned long long)e->size);
	if (e->keys & KH_MK_SHA256) {
		kh_hash_hex(e->sha256, KH_SHA256_LEN, hex);
		printf(", \"sha256\": \"%s\"", hex);
	}
	fputc('}', stdout);
}

static void kh_diff_json_change(const struct kh_diff_change *ch)
{
	char ma[16], mb[16];

	printf("    {\"kind\": \"%s\", \"path\": ", kh_diff_kind_name(ch->kind));
	kh_diff_json_str(ch->path);
	switch (ch->kind) {
	case KH_DIFF_ADDED:
	case KH_DIFF_REMOVED:
		printf(", \"type\": \"%s\"", kh_manifest_type_name(
			(ch->a ? ch->a : ch->b)->type));
		break;
	case KH_DIFF_CHANGED:
		fputs(", \"a\": ", stdout);
		kh_diff_json_side(ch->a);
		fputs(", \"b\": ", stdout);
		kh_diff_json_side(ch->b);
		break;
	case KH_DIFF_MODE:
		printf(", \"a\": \"%s\", \"b\": \"%s\"",
		       kh_diff_mode(ch->a->mode, ma, sizeof(ma)),
		       kh_diff_mode(ch->b->mode, mb, sizeof(mb)));
		break;
	case KH_DIFF_TYPE:
		printf(", \"a\": \"%s\", \"b\": \"%s\"",
		       kh_manifest_type_name(ch->a->type),
		       kh_manifest_type_name(ch->b->type));
		break;
	case KH_DIFF_LINK:
		fputs(", \"a\": ", stdout);
		kh_diff_json_str(ch->a->link);
		fputs(", \"b\": ", stdout);
		kh_diff_json_str(ch->b->link);
		break;
	default:
		break;
	}
	fputc('}', stdout);
}

static void kh_diff_json(const struct kh_diff_cli *c, const struct kh_diff *d)
{
	fputs("{\n  \"a\": ", stdout);
	kh_diff_json_str(c->a);
	fputs(",\n  \"b\": ", stdout);
	kh_diff_json_str(c->b);
	printf(",\n  \"same\": %s,\n  \"counts\": {",
	       kh_diff_count(d) ? "false" : "true");
	for (int k = 0; k < KH_DIFF_NKINDS; k++)
		printf("%s\"%s\": %zu", k ? ", " : "",
		       kh_diff_kind_name((enum kh_diff_kind)k),
		       kh_diff_count_kind(d, (enum kh_diff_kind)k));
	fputs("}", stdout);
	if (!c->stat) {
		fputs(",\n  \"changes\": [", stdout);
		for (size_t i = 0; i < kh_diff_count(d); i++) {
			fputs(i ? ",\n" : "\n", stdout);
			kh_diff_json_change(kh_diff_at(d, i));
		}
		fputs(kh_diff_count(d) ? "\n  ]" : "]", stdout);
	}
	fputs("\n}\n", stdout);
}

/* ---- unified diffs ---- */

/* "a/include/x.h": patch -p1 applies the result to a tree. A name with
 * a blank, a quote, a backslash or a control byte is C-quoted, as git
 * writes it and GNU patch reads it: without a tab and a date after the
 * name (diff's --label form), patch would stop at the first space. */
static char *kh_diff_label(char side, const char *path)
{
	const char *p = strncmp(path, "./", 2) ? path : path + 2;
	size_t n = strlen(p);
	char *label = malloc(4 * n + 6), *q = label;
	int quote = 0;

	if (!label)
		return NULL;
	for (const char *c = p; *c; c++)
		quote |= (unsigned char)*c <= ' ' || *c == '"' || *c == '\\' ||
			 *c == 0x7f;
	if (quote)
		*q++ = '"';
	*q++ = side;
	*q++ = '/';
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!quote || (c > ' ' && c != '"' && c != '\\' &&
			       c != 0x7f) || c == ' ') {
			*q++ = (char)c;
		} else if (c == '"' || c == '\\') {
			*q++ = '\\';
			*q++ = (char)c;
		} else if (c == '\t') {
			*q++ = '\\';
			*q++ = 't';
		} else if (c == '\n') {
			*q++ = '\\';
			*q++ = 'n';
		} else {
			q += sprintf(q, "\\%03o", c);
		}
	}
	if (quote)
		*q++ = '"';
	*q = '\0';
	return label;
}

static int kh_diff_print_unified(const struct kh_diff *d, int context,
				 struct kh_error *err)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < kh_diff_count(d); i++) {
		const struct kh_diff_change *ch = kh_diff_at(d, i);
		char *la, *lb, *text = NULL;
		size_t len = 0;

		if (ch->kind != KH_DIFF_CHANGED)
			continue;
		la = kh_diff_label('a', ch->path);
		lb = kh_diff_label('b', ch->path);
		if (!la || !lb)
			ret = kh_error_set(err, KH_ENOMEM, NULL,
					   "out of memory");
		else
			ret = kh_diff_unified((const char *)ch->a->data,
					      ch->a->len,
					      (const char *)ch->b->data,
					      ch->b->len, la, lb, context,
					      &text, &len, err);
		if (ret == 0)
			fwrite(text, 1, len, stdout);
		free(text);
		free(la);
		free(lb);
	}
	return ret;
}

static int kh_diff_flush(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	kh_cli_error("standard output: write error");
	clearerr(stdout);
	return KH_EXIT_TROUBLE;
}

/* One side: a manifest, or the archive in any source (extract/kh_source). */
static int kh_diff_side(const char *path, unsigned flags,
			struct kh_manifest **m, int *is_archive,
			struct kh_error *err)
{
	struct kh_source *src;
	int ret = kh_source_open(path, 1, &src, err);

	if (ret < 0)
		return ret;
	*is_archive = !kh_source_is_manifest(src);
	ret = kh_source_manifest(src, flags, m, err);
	kh_source_free(src);
	return ret;
}

int kh_cmd_diff(int argc, char **argv)
{
	struct kh_diff_cli c = { .context = -1 };
	struct kh_manifest *ma = NULL, *mb = NULL;
	struct kh_error err = KH_ERROR_INIT;
	unsigned flags;
	struct kh_diff *d = NULL;
	int status, arch_a = 0, arch_b = 0, ret;

	status = kh_diff_parse(argc, argv, &c);
	if (status >= 0)
		return status;
	if (!strcmp(c.a, "-") && !strcmp(c.b, "-"))
		return kh_diff_bad("only one side can be standard input%s",
				   "");
	flags = c.context >= 0 ? KH_ARCHIVE_READ_DATA : 0;
	ret = kh_diff_side(c.a, flags, &ma, &arch_a, &err);
	if (ret == 0)
		ret = kh_diff_side(c.b, flags, &mb, &arch_b, &err);
	if (ret == 0 && c.context >= 0 && (!arch_a || !arch_b)) {
		kh_cli_error("%s: a manifest holds no contents: -u needs two "
			     "archives", arch_a ? c.b : c.a);
		status = KH_EXIT_TROUBLE;
		goto out;
	}
	if (ret == 0)
		ret = kh_diff_new(ma, mb, &d, &err);
	if (ret < 0) {
		kh_cli_fail(&err);
		status = KH_EXIT_TROUBLE;
		goto out;
	}
	status = kh_diff_count(d) ? KH_EXIT_DIFFER : KH_EXIT_OK;
	if (c.quiet)
		goto out;
	if (c.json) {
		kh_diff_json(&c, d);
		goto out;
	}
	if (!c.stat)
		for (size_t i = 0; i < kh_diff_count(d); i++)
			kh_diff_print_change(kh_diff_at(d, i));
	if (c.context >= 0 && kh_diff_print_unified(d, c.context, &err) < 0) {
		kh_cli_fail(&err);
		status = KH_EXIT_TROUBLE;
		goto out;
	}
	kh_diff_print_summary(d);
out:
	kh_diff_free(d);
	kh_manifest_free(ma);
	kh_manifest_free(mb);
	return kh_diff_flush(status);
}
