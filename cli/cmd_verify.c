/* cmd_verify: `kheaders verify`, an archive against its manifest
 * (--manifest) or against a rebuild from the tree (--rebuild, the
 * reproducible-build check). Prints "ARCHIVE: OK" or one line per
 * difference, "PATH: what differs", then "ARCHIVE: FAIL (...)".
 * Exit status as diff(1): 0 same, 1 different, 2 trouble. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "extract/kh_source.h"
#include "gen/kh_blocks.h"
#include "gen/kh_gen.h"
#include "lib/kh_file.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"
#include "manifest/kh_verify.h"

static const char kh_verify_usage[] =
	"Usage: kheaders verify --manifest FILE [-q] ARCHIVE\n"
	"  or:  kheaders verify --rebuild [TREE OPTION]... [-q] ARCHIVE\n"
	"Check a headers archive. With --manifest: every entry matches the\n"
	"manifest (type, mode, uid, gid, size, time, sha256digest, link),\n"
	"none is missing or extra, the order is the same, and the SHA-256\n"
	"of the tar and of the archive file match. With --rebuild: build the\n"
	"archive again from the tree, as gen would, in a temporary directory,\n"
	"and compare byte for byte; on a difference, say which entries differ\n"
	"and how (content, mode, mtime, order), or that only the tar headers\n"
	"or only the compression differ.\n"
	"\n"
	"  -m, --manifest FILE  the manifest to check against\n"
	"      --rebuild        rebuild from the tree and compare\n"
	"  -q, --quiet          print nothing; the exit status tells\n"
	"  -h, --help           show this help and exit\n"
	"Tree options for --rebuild, as for gen (same defaults):\n"
	"      --srctree DIR    kernel source tree (default: $srctree, else .)\n"
	"      --objtree DIR    build tree (default: the current directory)\n"
	"      --arch NAME      source architecture (default: $SRCARCH)\n"
	"      --mtime WHEN     entry mtime (default: $KBUILD_BUILD_TIMESTAMP,\n"
	"                       else $SOURCE_DATE_EPOCH, else @0)\n"
	"      --no-strip       the archive kept comments\n"
	"      --xz-preset N    xz preset 0..9 (default 6)\n"
	"      --xz-block-size SIZE  xz block size (default 4M)\n"
	"      --xz-single      one xz stream, as upstream's script writes\n"
	"  -j, --threads N      reader threads (default: online CPUs)\n"
	"\n"
	"ARCHIVE may be a .tar.xz, /sys/kernel/kheaders.tar.xz,\n"
	"/proc/kheaders.tar.xz or - (standard input).\n"
	"Exit status: 0 it matches, 1 it differs, 2 trouble (bad usage,\n"
	"unreadable files, a failed rebuild).\n";

enum {
	KH_VOPT_REBUILD = 256,
	KH_VOPT_SRCTREE,
	KH_VOPT_OBJTREE,
	KH_VOPT_ARCH,
	KH_VOPT_MTIME,
	KH_VOPT_NO_STRIP,
	KH_VOPT_XZ_PRESET,
	KH_VOPT_XZ_BLOCK_SIZE,
	KH_VOPT_XZ_SINGLE,
};

static const struct option kh_verify_longopts[] = {
	{ "manifest", required_argument, NULL, 'm' },
	{ "rebuild", no_argument, NULL, KH_VOPT_REBUILD },
	{ "srctree", required_argument, NULL, KH_VOPT_SRCTREE },
	{ "objtree", required_argument, NULL, KH_VOPT_OBJTREE },
	{ "arch", required_argument, NULL, KH_VOPT_ARCH },
	{ "mtime", required_argument, NULL, KH_VOPT_MTIME },
	{ "no-strip", no_argument, NULL, KH_VOPT_NO_STRIP },
	{ "xz-preset", required_argument, NULL, KH_VOPT_XZ_PRESET },
	{ "xz-block-size", required_argument, NULL, KH_VOPT_XZ_BLOCK_SIZE },
	{ "xz-single", no_argument, NULL, KH_VOPT_XZ_SINGLE },
	{ "threads", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kh_verify_cli {
	struct kh_gen_opts o;
	const char *manifest;
	const char *archive;
	const char *mtime_arg;
	int rebuild, tree_opts, quiet;
};

/* Usage errors exit 2 here, as every trouble does. */
static int kh_verify_bad(const char *fmt, const char *arg)
{
	kh_cli_usage("verify", fmt, arg);
	return KH_EXIT_TROUBLE;
}

static int kh_verify_parse(int argc, char **argv, struct kh_verify_cli *c)
{
	char *end;
	long n;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:j:qh", kh_verify_longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'm': c->manifest = optarg; break;
		case KH_VOPT_REBUILD: c->rebuild = 1; break;
		case KH_VOPT_SRCTREE: c->o.srctree = optarg; c->tree_opts = 1;
			break;
		case KH_VOPT_OBJTREE: c->o.objtree = optarg; c->tree_opts = 1;
			break;
		case KH_VOPT_ARCH: c->o.arch = optarg; c->tree_opts = 1; break;
		case KH_VOPT_MTIME: c->mtime_arg = optarg; c->tree_opts = 1;
			break;
		case KH_VOPT_NO_STRIP: c->o.strip = 0; c->tree_opts = 1; break;
		case KH_VOPT_XZ_PRESET:
			if (optarg[0] < '0' || optarg[0] > '9' || optarg[1])
				return kh_verify_bad("--xz-preset wants 0 to "
						     "9, not '%s'", optarg);
			c->o.xz_preset = (uint32_t)(optarg[0] - '0');
			c->tree_opts = 1;
			break;
		case KH_VOPT_XZ_BLOCK_SIZE:
			if (kh_cli_parse_size(optarg, &c->o.xz_block_size) < 0 ||
			    c->o.xz_block_size < KH_BLOCKS_TARGET_MIN ||
			    c->o.xz_block_size > KH_GEN_XZ_BLOCK_SIZE_MAX)
				return kh_verify_bad("--xz-block-size wants 64K "
						     "to 1G, not '%s'", optarg);
			c->o.xz_single = 0;
			c->tree_opts = 1;
			break;
		case KH_VOPT_XZ_SINGLE:
			c->o.xz_single = 1;
			c->tree_opts = 1;
			break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 64)
				return kh_verify_bad("--threads wants a number "
						     "from 1 to 64, not '%s'",
						     optarg);
			c->o.threads = (int)n;
			break;
		case 'q': c->quiet = 1; break;
		case 'h':
			fputs(kh_verify_usage, stdout);
			return KH_EXIT_OK;
		case ':':
			return kh_verify_bad("option '%s' needs an argument",
					     argv[optind - 1]);
		default:
			return kh_verify_bad("unknown option '%s'",
					     argv[optind - 1]);
		}
	}
	if (optind == argc)
		return kh_verify_bad("no archive given%s", "");
	if (optind + 1 < argc)
		return kh_verify_bad("unexpected argument '%s'",
				     argv[optind + 1]);
	c->archive = argv[optind];
	if (!!c->manifest == c->rebuild)
		return kh_verify_bad("say what to verify against: --manifest "
				     "FILE or --rebuild%s", "");
	if (c->manifest && c->tree_opts)
		return kh_verify_bad("tree options go with --rebuild, not "
				     "--manifest%s", "");
	return -1;
}

/* Paths and targets as the manifest writes them, so that one finding
 * stays on one line whatever the name holds. */
static void kh_verify_print_path(const char *path)
{
	char *e = kh_mtree_escape(path);

	fputs(e ? e : path, stdout);
	free(e);
}

static void kh_verify_print(const struct kh_verify_finding *f,
			    const char *archive, const char *other)
{
	static const char *const what[KH_VERIFY_NKINDS] = {
		[KH_VERIFY_TYPE] = "type",
		[KH_VERIFY_CONTENT] = "content",
		[KH_VERIFY_LINK] = "link",
		[KH_VERIFY_MODE] = "mode",
		[KH_VERIFY_UID] = "uid",
		[KH_VERIFY_GID] = "gid",
		[KH_VERIFY_MTIME] = "mtime",
		[KH_VERIFY_ORDER] = "order",
		[KH_VERIFY_TAR] = "tar stream",
		[KH_VERIFY_ARCHIVE] = "archive file",
	};

	if (f->path)
		kh_verify_print_path(f->path);
	else
		fputs(archive, stdout);
	switch (f->kind) {
	case KH_VERIFY_MISSING:
		printf(": missing from the archive (in the %s)\n", other);
		return;
	case KH_VERIFY_EXTRA:
		printf(": extra: in the archive, not in the %s\n", other);
		return;
	case KH_VERIFY_DUPLICATE:
		printf(": extra: listed again in the archive\n");
		return;
	default:
		break;
	}
	printf(": %s differs (%s ", what[f->kind], other);
	if (f->kind == KH_VERIFY_LINK)
		kh_verify_print_path(f->expected);
	else
		fputs(f->expected, stdout);
	fputs(", archive ", stdout);
	if (f->kind == KH_VERIFY_LINK)
		kh_verify_print_path(f->actual);
	else
		fputs(f->actual, stdout);
	fputs(")\n", stdout);
}

static int kh_verify_report(const struct kh_verify *v, const char *archive,
			    const char *other, int quiet)
{
	enum kh_verify_verdict verdict = kh_verify_verdict(v);

	if (quiet)
		return verdict == KH_VERIFY_SAME ? KH_EXIT_OK
						 : KH_EXIT_DIFFER;
	for (size_t i = 0; i < kh_verify_count(v); i++)
		kh_verify_print(kh_verify_at(v, i), archive, other);
	switch (verdict) {
	case KH_VERIFY_SAME:
		printf("%s: OK\n", archive);
		return KH_EXIT_OK;
	case KH_VERIFY_ENTRIES:
		printf("%s: FAIL (%zu entr%s differ%s)\n", archive,
		       kh_verify_entries(v),
		       kh_verify_entries(v) == 1 ? "y" : "ies",
		       kh_verify_entries(v) == 1 ? "s" : "");
		break;
	case KH_VERIFY_TAR_ONLY:
		printf("%s: FAIL (every entry matches; the tar headers or "
		       "padding differ)\n", archive);
		break;
	case KH_VERIFY_COMPRESSION_ONLY:
		printf("%s: FAIL (compression only: the tar inside matches, "
		       "the xz stream differs)\n", archive);
		break;
	}
	return KH_EXIT_DIFFER;
}

static int kh_verify_against_manifest(const struct kh_verify_cli *c,
				      struct kh_error *err,
				      struct kh_verify **v,
				      struct kh_manifest **want,
				      struct kh_manifest **got)
{
	struct kh_source *src = NULL;
	unsigned char *text = NULL;
	size_t len = 0;
	int ret;

	ret = kh_archive_load(c->manifest, KH_FILE_MAX_MANIFEST, "a manifest",
			      &text, &len, err);
	if (ret == 0)
		ret = kh_mtree_parse((const char *)text, len, c->manifest,
					want, err);
	free(text);
	if (ret == 0)
		ret = kh_source_open(c->archive, 0, &src, err);
	if (ret == 0)
		ret = kh_source_manifest(src, 0, got, err);
	kh_source_free(src);
	if (ret == 0)
		ret = kh_verify_compare(*want, *got, v, err);
	return ret;
}

/* A write error on stdout is trouble (2), not "different" (1): say it
 * here, where the status is known, and leave nothing for main to
 * report again. */
static int kh_verify_flush(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	kh_cli_error("standard output: write error");
	clearerr(stdout);
	return KH_EXIT_TROUBLE;
}

/* verify --rebuild of the archive in any source: the archive is read
 * (and found) first, so that a wrong source costs no rebuild. */
static int kh_verify_rebuild_source(const struct kh_verify_cli *c,
				    struct kh_verify **v,
				    struct kh_error *err)
{
	struct kh_source *s;
	const unsigned char *a;
	size_t len;
	int ret = kh_source_open(c->archive, 0, &s, err);

	if (ret < 0)
		return ret;
	a = kh_source_archive(s, &len);
	ret = kh_verify_rebuild(&c->o, a, len, kh_source_name(s), NULL, v,
				err);
	kh_source_free(s);
	return ret;
}

int kh_cmd_verify(int argc, char **argv)
{
	struct kh_verify_cli c = { .o = KH_GEN_OPTS_INIT };
	struct kh_manifest *want = NULL, *got = NULL;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_verify *v = NULL;
	const char *src, *env;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int status, ret;

	c.o.srctree = (env = getenv("srctree")) && *env ? env : ".";
	c.o.arch = (env = getenv("SRCARCH")) && *env ? env : NULL;
	c.o.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	status = kh_verify_parse(argc, argv, &c);
	if (status >= 0)
		return status;
	if (c.manifest) {
		ret = kh_verify_against_manifest(&c, &err, &v, &want, &got);
	} else {
		ret = kh_cli_mtime(c.mtime_arg, &c.o.mtime, &src, &err);
		if (ret == 0)
			ret = kh_verify_rebuild_source(&c, &v, &err);
	}
	if (ret < 0) {
		kh_cli_fail(&err);
		status = KH_EXIT_TROUBLE;
	} else {
		status = kh_verify_report(v, strcmp(c.archive, "-") ?
					  c.archive : "(standard input)",
					  c.manifest ? "manifest" : "rebuild",
					  c.quiet);
	}
	kh_verify_free(v);
	kh_manifest_free(want);
	kh_manifest_free(got);
	return kh_verify_flush(status);
}
