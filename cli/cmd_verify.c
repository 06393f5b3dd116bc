/* cmd_verify: `kheaders verify`, an archive against its manifest
 * (--manifest) or against a rebuild from the tree (--rebuild, the
 * reproducible-build check). Prints "ARCHIVE: OK" or one line per
 * difference, "PATH: what differs", then "ARCHIVE: FAIL (...)".
 * Exit status as diff(1): 0 same, 1 different, 2 trouble. */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "cli/kh_treeopts.h"
#include "extract/kh_source.h"
#include "gen/kh_gen.h"
#include "lib/kh_file.h"
#include "lib/kh_time.h"
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
	"or only the compression differ. A difference every entry shares\n"
	"(mtime, owner, the directories' mode) is said once, with its likely\n"
	"cause.\n"
	"\n"
	"  -m, --manifest FILE the manifest to check against\n"
	"      --rebuild       rebuild from the tree and compare\n"
	"  -q, --quiet         print nothing; the exit status tells\n"
	"  -h, --help          show this help and exit\n"
	"Tree options for --rebuild, as for gen (same defaults):\n"
	KH_TREEOPTS_HELP
	"With no timestamp given (no --mtime, $KBUILD_BUILD_TIMESTAMP or\n"
	"$SOURCE_DATE_EPOCH), --rebuild takes the one the archive's entries\n"
	"carry, and says so.\n"
	"\n"
	"ARCHIVE may be a .tar.xz, /sys/kernel/kheaders.tar.xz,\n"
	"/proc/kheaders.tar.xz, a module, a kernel image (vmlinux, bzImage,\n"
	"Image.gz, vmlinuz.efi) or - (standard input).\n"
	"Exit status: 0 it matches, 1 it differs, 2 trouble (bad usage,\n"
	"unreadable files, a failed rebuild).\n";

enum {
	KH_VOPT_REBUILD = 256,
};

static const struct option kh_verify_longopts[] = {
	{ "manifest", required_argument, NULL, 'm' },
	{ "rebuild", no_argument, NULL, KH_VOPT_REBUILD },
	KH_TREEOPTS_LONGOPTS,
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kh_verify_cli {
	struct kh_gen_opts o;
	const char *manifest;
	const char *archive;
	const char *mtime_src;     /* where the rebuild's mtime came from */
	struct kh_treeopts t;      /* the tree options, into o */
	int rebuild, quiet;
	int adopted;               /* no mtime given: the archive's carried
				    * one (1) or several (2) */
	int64_t first, last;       /* the archive's mtimes then */
	struct kh_manifest *got;   /* the archive, read to learn them */
};

/* Usage errors exit 2 here, as every trouble does. */
static int kh_verify_bad(const char *fmt, const char *arg)
{
	kh_cli_usage("verify", fmt, arg);
	return KH_EXIT_TROUBLE;
}

static int kh_verify_parse(int argc, char **argv, struct kh_verify_cli *c)
{
	int opt, took;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:j:qh", kh_verify_longopts,
				  NULL)) != -1) {
		took = kh_treeopts_parse(&c->t, "verify", opt, optarg);
		if (took < 0)
			return KH_EXIT_TROUBLE;
		if (took)
			continue;
		switch (opt) {
		case 'm': c->manifest = optarg; break;
		case KH_VOPT_REBUILD: c->rebuild = 1; break;
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
	if (c->manifest && c->t.given)
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

/* The likely cause of a mode every entry of a type shares, and that no
 * option matches (README, differences from upstream). */
static void kh_verify_print_mode(const struct kh_verify_uniform *u)
{
	static const char *const what[KH_VERIFY_NCLASSES] = {
		[KH_VERIFY_ALL_FILE_MODE] = "file",
		[KH_VERIFY_ALL_DIR_MODE] = "directory",
		[KH_VERIFY_ALL_LINK_MODE] = "symlink",
	};
	int setgid = u->cls == KH_VERIFY_ALL_DIR_MODE &&
			 (u->got & 02000) && !(u->want & 02000);

	printf("mode differs on every %s (rebuild 0%" PRIo64 ", archive 0%"
	       PRIo64 "): ", what[u->cls], u->want, u->got);
	if (setgid)
		printf("the build directory was setgid (upstream's "
		       "--mode=u=rw,go=r,a+X keeps the bit)");
	if (setgid && (u->got & ~(int64_t)02000) != u->want)
		fputs(", and ", stdout);
	if (!setgid || (u->got & ~(int64_t)02000) != u->want)
		printf("made without --mode=u=rw,go=r,a+X (older point "
		       "releases), modes from the tree and the umask");
	printf("; kheaders always writes 0%" PRIo64 "\n", u->want);
}

/* One line for a difference every entry shares: what, the likely
 * cause, and the option that would match when there is one. */
static void kh_verify_print_uniform(const struct kh_verify_uniform *u,
				    const char *archive, const char *src)
{
	char when[64], from[64] = "";

	/* An mtime from the environment may surprise: name it. */
	if (src && strncmp(src, "--", 2) && strcmp(src, "default"))
		snprintf(from, sizeof(from), " from %s", src);
	printf("%s: ", archive);
	switch (u->cls) {
	case KH_VERIFY_ALL_MTIME:
		if (u->several) {
			printf("mtime differs on every entry (rebuild @%"
			       PRId64 "%s, archive @%" PRId64 " to @%" PRId64
			       "): built without KBUILD_BUILD_TIMESTAMP, "
			       "each entry has the time of its copy; no "
			       "--mtime matches\n", u->want, from, u->got,
			       u->got_last);
			return;
		}
		kh_time_format(u->got, when, sizeof(when));
		printf("mtime differs on every entry (rebuild @%" PRId64
		       "%s, archive @%" PRId64 "): built with "
		       "KBUILD_BUILD_TIMESTAMP %s: pass --mtime @%" PRId64
		       "\n", u->want, from, u->got, when, u->got);
		return;
	case KH_VERIFY_ALL_OWNER:
		printf("owner differs on every entry (rebuild %" PRId64 ":%"
		       PRId64 ", archive %" PRId64 ":%" PRId64 "): made "
		       "without tar's --owner=0 --group=0 (the 5.2 and 5.3 "
		       "rules, or a vendor's); kheaders always writes "
		       "0:0\n", u->want, u->want_gid, u->got, u->got_gid);
		return;
	default:
		kh_verify_print_mode(u);
		return;
	}
}

/* How the rebuild got its mtime when none was given. */
static void kh_verify_print_adopted(const struct kh_verify_cli *c,
				    const char *archive)
{
	char when[64];

	if (c->adopted == 1) {
		kh_time_format(c->first, when, sizeof(when));
		printf("%s: using the archive's timestamp %s (@%" PRId64
		       "): pass --mtime to check it\n", archive, when,
		       c->first);
	} else if (c->adopted == 2) {
		printf("%s: the archive's entries carry several mtimes (@%"
		       PRId64 " to @%" PRId64 "): rebuilding with @0, as "
		       "without --mtime, KBUILD_BUILD_TIMESTAMP or "
		       "SOURCE_DATE_EPOCH\n", archive, c->first, c->last);
	}
}

static int kh_verify_report(const struct kh_verify_cli *c,
			    const struct kh_verify *v, const char *archive,
			    const char *other, int quiet)
{
	enum kh_verify_verdict verdict = kh_verify_verdict(v);

	if (quiet)
		return verdict == KH_VERIFY_SAME ? KH_EXIT_OK
						 : KH_EXIT_DIFFER;
	kh_verify_print_adopted(c, archive);
	for (size_t i = 0; i < kh_verify_uniform_count(v); i++)
		kh_verify_print_uniform(kh_verify_uniform_at(v, i), archive,
					c->mtime_src);
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

/* No mtime given (no --mtime, KBUILD_BUILD_TIMESTAMP or
 * SOURCE_DATE_EPOCH): whoever checks an archive built elsewhere does
 * not know its timestamp, so take the one its entries carry and say
 * so. With several, keep @0 (the default) and say that too. */
static int kh_verify_adopt(struct kh_verify_cli *c,
			   const struct kh_source *s, struct kh_error *err)
{
	int ret;

	if (strcmp(c->mtime_src, "default"))
		return 0;
	ret = kh_source_manifest(s, 0, &c->got, err);
	if (ret < 0)
		return ret;
	c->adopted = kh_verify_mtimes(c->got, &c->first, &c->last);
	if (c->adopted == 1)
		c->o.mtime = c->first;
	return 0;
}

/* verify --rebuild of the archive in any source: the archive is read
 * (and found) first, so that a wrong source costs no rebuild. */
static int kh_verify_rebuild_source(struct kh_verify_cli *c,
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
	ret = kh_verify_adopt(c, s, err);
	if (ret == 0)
		ret = kh_verify_rebuild(&c->o, a, len, c->got,
					kh_source_name(s), NULL, v, err);
	kh_source_free(s);
	return ret;
}

int kh_cmd_verify(int argc, char **argv)
{
	struct kh_verify_cli c = { .o = KH_GEN_OPTS_INIT };
	struct kh_manifest *want = NULL, *got = NULL;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_verify *v = NULL;
	int status, ret;

	c.t.o = &c.o;
	kh_treeopts_defaults(&c.o);
	status = kh_verify_parse(argc, argv, &c);
	if (status >= 0)
		return status;
	if (c.manifest) {
		ret = kh_verify_against_manifest(&c, &err, &v, &want, &got);
	} else {
		ret = kh_treeopts_mtime(c.t.mtime_arg, &c.o.mtime,
					&c.mtime_src, &err);
		if (ret == 0)
			ret = kh_verify_rebuild_source(&c, &v, &err);
	}
	if (ret < 0) {
		kh_cli_fail(&err);
		status = KH_EXIT_TROUBLE;
	} else {
		status = kh_verify_report(&c, v, strcmp(c.archive, "-") ?
					  c.archive : "(standard input)",
					  c.manifest ? "manifest" : "rebuild",
					  c.quiet);
	}
	kh_verify_free(v);
	kh_manifest_free(c.got);
	kh_manifest_free(want);
	kh_manifest_free(got);
	return kh_verify_flush(status);
}
