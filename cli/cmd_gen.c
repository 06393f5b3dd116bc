/* cmd_gen: the command line of `kheaders gen`. Turns flags and Kbuild's
 * environment into a kh_gen_opts, runs the generator, reports. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "cli/kh_treeopts.h"
#include "gen/kh_gen.h"
#include "lib/kh_afile.h"
#include "lib/kh_hash.h"
#include "lib/kh_time.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_facts.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

#ifndef KH_VERSION
#define KH_VERSION "unknown"
#endif

static const char kh_gen_usage[] =
	"Usage: kheaders gen [OPTION]... -o FILE.tar.xz\n"
	"Build the in-kernel headers archive from a kernel tree: every *.h\n"
	"below include/ and arch/ARCH/include/ of srctree and objtree, with\n"
	"comments stripped as upstream does, in a reproducible tar.xz.\n"
	"\n"
	"  -o, --output FILE   the archive to write (required)\n"
	"      --stub FILE     also write the .S that embeds the archive\n"
	"      --manifest FILE also write its mtree manifest (kheaders(1));\n"
	"                      rewritten when missing or stale, even when\n"
	"                      the archive is up to date\n"
	"      --incbin PATH   path the stub's .incbin names (default: the\n"
	"                      -o argument as given)\n"
	KH_TREEOPTS_HELP
	"      --cache DIR     keep compressed blocks in DIR (default, with a\n"
	"                      state: FILE.tar.xz.cache); never changes bytes;\n"
	"                      a new or empty directory: kheaders makes it its\n"
	"                      own and refuses any other\n"
	"      --no-cache      compress every block\n"
	"      --cache-size SIZE  bound the cache (default 32M)\n"
	"      --state FILE    what the last run built from (default:\n"
	"                      FILE.tar.xz.state); nothing is rebuilt when\n"
	"                      inputs, options, tool and outputs are unchanged\n"
	"      --no-state      neither read nor write a state: always rebuild\n"
	"      --force         rebuild even when up to date\n"
	"      --depfile FILE  also write a Make depfile listing the inputs\n"
	"  -q, --quiet         print nothing on success\n"
	"  -v, --verbose       print the settings and what was archived\n"
	"  -h, --help          show this help and exit\n"
	"\n"
	"Prints '  GEN     FILE' as Kbuild does, only when it rebuilt. Outputs\n"
	"are replaced atomically; on failure the previous ones are left\n"
	"untouched; when up to date they are not touched at all. Only a\n"
	"regular file (or nothing) is replaced: a symlink, FIFO or device\n"
	"where an output goes is refused; two outputs on one path are a\n"
	"usage error.\n"
	"Exit status: 0 success, 1 error, 2 usage error.\n";

enum {
	KH_OPT_STUB = 256,
	KH_OPT_INCBIN,
	KH_OPT_STATE,
	KH_OPT_NO_STATE,
	KH_OPT_FORCE,
	KH_OPT_DEPFILE,
	KH_OPT_MANIFEST,
	KH_OPT_CACHE,
	KH_OPT_NO_CACHE,
	KH_OPT_CACHE_SIZE,
};

static const struct option kh_gen_longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "stub", required_argument, NULL, KH_OPT_STUB },
	{ "incbin", required_argument, NULL, KH_OPT_INCBIN },
	{ "state", required_argument, NULL, KH_OPT_STATE },
	{ "no-state", no_argument, NULL, KH_OPT_NO_STATE },
	{ "force", no_argument, NULL, KH_OPT_FORCE },
	{ "depfile", required_argument, NULL, KH_OPT_DEPFILE },
	{ "manifest", required_argument, NULL, KH_OPT_MANIFEST },
	{ "cache", required_argument, NULL, KH_OPT_CACHE },
	{ "no-cache", no_argument, NULL, KH_OPT_NO_CACHE },
	{ "cache-size", required_argument, NULL, KH_OPT_CACHE_SIZE },
	KH_TREEOPTS_LONGOPTS,
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kh_gen_cli {
	struct kh_gen_opts o;
	const char *mtime_arg;
	const char *mtime_src;   /* where the mtime came from, for -v */
	int quiet, verbose, no_state, no_cache;
	char *state_buf;         /* the default state path, owned */
	char *cache_buf;         /* the default cache path, owned */
	char tool[128];
};

/* Returns -1 to continue, or the exit status. */
static int kh_gen_parse(int argc, char **argv, struct kh_gen_cli *c)
{
	struct kh_treeopts t = { .o = &c->o };
	int opt, took;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:j:qvh", kh_gen_longopts,
				  NULL)) != -1) {
		took = kh_treeopts_parse(&t, "gen", opt, optarg);
		if (took < 0)
			return KH_EXIT_USAGE;
		if (took)
			continue;
		switch (opt) {
		case 'o': c->o.output = optarg; break;
		case KH_OPT_STUB: c->o.stub = optarg; break;
		case KH_OPT_INCBIN: c->o.incbin = optarg; break;
		case KH_OPT_STATE: c->o.state = optarg; break;
		case KH_OPT_NO_STATE: c->no_state = 1; break;
		case KH_OPT_FORCE: c->o.force = 1; break;
		case KH_OPT_DEPFILE: c->o.depfile = optarg; break;
		case KH_OPT_MANIFEST: c->o.manifest = optarg; break;
		case KH_OPT_CACHE: c->o.cache = optarg; break;
		case KH_OPT_NO_CACHE: c->no_cache = 1; break;
		case KH_OPT_CACHE_SIZE:
			if (kh_cli_parse_size(optarg, &c->o.cache_max) < 0 ||
			    !c->o.cache_max)
				return kh_cli_usage("gen", "--cache-size wants "
						    "a size such as 32M, not "
						    "'%s'", optarg);
			break;
		case 'q': c->quiet = 1; break;
		case 'v': c->verbose = 1; break;
		case 'h':
			fputs(kh_gen_usage, stdout);
			return KH_EXIT_OK;
		case ':':
			return kh_cli_usage("gen", "option '%s' needs an "
					    "argument", argv[optind - 1]);
		default:
			return kh_cli_usage("gen", "unknown option '%s'",
					    argv[optind - 1]);
		}
	}
	c->mtime_arg = t.mtime_arg;
	if (optind < argc)
		return kh_cli_usage("gen", "unexpected argument '%s'",
				    argv[optind]);
	if (!c->o.output)
		return kh_cli_usage("gen", "no output: pass -o FILE.tar.xz");
	if (c->no_state && c->o.state)
		return kh_cli_usage("gen", "--state and --no-state conflict");
	if (c->no_cache && c->o.cache)
		return kh_cli_usage("gen", "--cache and --no-cache conflict");
	return -1;
}

/* Two outputs on one path would overwrite each other (the stub over
 * the archive, and exit 0): a usage error, however the path is spelt. */
static int kh_gen_check_paths(const struct kh_gen_cli *c)
{
	const struct {
		const char *path, *name;
	} outs[] = {
		{ c->o.output, "-o" },
		{ c->o.stub, "--stub" },
		{ c->o.state, c->state_buf ? "the state (default: -o FILE.state)"
					   : "--state" },
		{ c->o.manifest, "--manifest" },
		{ c->o.depfile, "--depfile" },
		{ c->o.cache, c->cache_buf ? "the cache (default: -o FILE.cache)"
					   : "--cache" },
	};
	size_t n = sizeof(outs) / sizeof(outs[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (outs[i].path && outs[j].path &&
			    kh_afile_same(outs[i].path, outs[j].path))
				return kh_cli_usage("gen", "%s '%s' and %s '%s' "
						    "are the same file",
						    outs[j].name, outs[j].path,
						    outs[i].name, outs[i].path);
	return -1;
}

/* The tool's identity in the state: the version, and a hash of the
 * binary itself so that a rebuilt kheaders of the same version still
 * counts as a new tool. */
static void kh_gen_tool_id(char *buf, size_t size)
{
	unsigned char h[KH_XXH128_LEN];
	char hex[2 * KH_XXH128_LEN + 1] = "unknown";
	struct kh_error err = KH_ERROR_INIT;

	/* Streamed through a small buffer: the same XXH3-128 as hashing
	 * the whole binary at once, without fresh pages to hold it. */
	if (kh_hash_file("/proc/self/exe", NULL, h, NULL, &err) == 0)
		kh_hash_hex(h, KH_XXH128_LEN, hex);
	snprintf(buf, size, "%s+%.16s", KH_VERSION, hex);
}

static void kh_gen_print_opts(const struct kh_gen_cli *c)
{
	char when[64], blocks[96] = "single stream";

	if (!c->o.xz_single)
		snprintf(blocks, sizeof(blocks), "blocks of about %llu bytes",
			 (unsigned long long)(c->o.xz_block_size ?
			 c->o.xz_block_size : KH_GEN_XZ_BLOCK_SIZE));

	kh_time_format(c->o.mtime, when, sizeof(when));
	fprintf(stderr,
		"kheaders gen: srctree=%s objtree=%s arch=%s\n"
		"kheaders gen: mtime=@%lld (%s) from %s\n"
		"kheaders gen: strip=%s format=gnu-tar xz=preset %u, crc64, "
		"%s\n"
		"kheaders gen: threads=%d output=%s stub=%s\n",
		c->o.srctree, c->o.objtree, c->o.arch, (long long)c->o.mtime,
		when, c->mtime_src, c->o.strip ? "upstream-perl" : "none",
		(unsigned)c->o.xz_preset, blocks, c->o.threads, c->o.output,
		c->o.stub ? c->o.stub : "(none)");
	if (!c->o.xz_single)
		fprintf(stderr, "kheaders gen: cache=%s\n",
			c->o.cache ? c->o.cache : "(none)");
}

static void kh_gen_report(const struct kh_gen_cli *c,
			  const struct kh_gen_result *res)
{
	if (c->verbose && res->rebuilt) {
		fprintf(stderr,
			"kheaders gen: rebuilt because %s\n"
			"kheaders gen: %zu files, %zu symlinks, %zu "
			"directories; tar %llu bytes, xz %llu bytes\n",
			res->reason, res->files, res->symlinks, res->dirs,
			(unsigned long long)res->tar_size,
			(unsigned long long)res->xz_size);
		if (res->blocks)
			fprintf(stderr, "kheaders gen: %zu xz blocks, %zu from "
				"the cache, %zu compressed\n", res->blocks,
				res->blocks_cached,
				res->blocks - res->blocks_cached);
	} else if (c->verbose) {
		fprintf(stderr, "kheaders gen: up to date: %zu files, %zu "
			"symlinks; %zu re-hashed, %zu outputs read; %zu "
			"directories read, %zu listed as last time\n",
			res->files, res->symlinks, res->rehashed,
			res->out_hashed, res->dirs_read, res->dirs_replayed);
	}
	if (c->verbose && res->cache_note[0])
		fprintf(stderr, "kheaders gen: going without the cache: %s\n",
			res->cache_note);
	if (!c->quiet && res->rebuilt)
		printf("  %-7s %s\n", "GEN", c->o.output);
}

/* The manifest layer's writer and freshness check, as gen wants them:
 * the front end is where the two layers meet. */
static struct kh_manifest_origin gen_origin(const struct kh_gen_origin *o)
{
	struct kh_manifest_origin m = { o->srctree, o->objtree, o->options,
					o->noptions };

	return m;
}

/* One entry as the tar writer recorded it, in the manifest's terms:
 * the keywords the archive reader gives the same entry read back. */
static int gen_manifest_entry(struct kh_manifest *m,
			      const struct kh_record_entry *r,
			      struct kh_error *err)
{
	struct kh_manifest_entry e = KH_MANIFEST_ENTRY_INIT;
	int ret = 0;

	e.path = kh_manifest_normpath(r->path);
	e.type = r->type == KH_RECORD_DIR ? KH_MANIFEST_DIR :
		 r->type == KH_RECORD_SYMLINK ? KH_MANIFEST_LINK :
		 KH_MANIFEST_FILE;
	e.mode = r->mode & 07777;
	e.uid = r->uid;
	e.gid = r->gid;
	e.mtime = r->mtime;
	e.keys = KH_MK_TYPE | KH_MK_MODE | KH_MK_UID | KH_MK_GID | KH_MK_TIME;
	if (r->type == KH_RECORD_SYMLINK) {
		e.link = strdup(r->link ? r->link : "");
		e.keys |= KH_MK_LINK;
	} else if (r->type == KH_RECORD_FILE) {
		e.size = r->size;
		memcpy(e.sha256, r->sha256, KH_SHA256_LEN);
		e.keys |= KH_MK_SIZE | KH_MK_SHA256;
	}
	if (!e.path || (r->type == KH_RECORD_SYMLINK && !e.link))
		ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	if (ret == 0)
		ret = kh_manifest_add(m, &e, err);
	kh_manifest_entry_release(&e);
	return ret;
}

static int gen_manifest_from_record(const struct kh_record *rec,
				    const char *archive,
				    const struct kh_gen_origin *origin,
				    char **text, size_t *len,
				    struct kh_error *err)
{
	struct kh_manifest_origin mo = gen_origin(origin);
	struct kh_manifest *m = NULL;
	int ret;

	(void)archive;
	*text = NULL;
	ret = kh_manifest_new(&m, err);
	for (size_t i = 0; ret == 0 && i < rec->n; i++)
		ret = gen_manifest_entry(m, &rec->v[i], err);
	if (ret == 0 && rec->tar.known)
		kh_manifest_set_digest(m, KH_MANIFEST_TAR, rec->tar.sha256,
				       rec->tar.size);
	if (ret == 0 && rec->archive.known)
		kh_manifest_set_digest(m, KH_MANIFEST_ARCHIVE,
				       rec->archive.sha256, rec->archive.size);
	if (ret == 0)
		ret = kh_facts_describe(m, &mo, err);
	if (ret == 0)
		ret = kh_mtree_format(m, text, len, err);
	kh_manifest_free(m);
	return ret;
}

static int gen_manifest_from_archive(int fd, const char *archive,
				     const struct kh_gen_origin *origin,
				     char **text, size_t *len,
				     struct kh_error *err)
{
	struct kh_manifest_origin m = gen_origin(origin);

	return kh_archive_read_manifest(fd, archive, &m, text, len, err);
}

static int gen_manifest_fresh(const char *path,
			      const struct kh_gen_origin *origin, int *fresh,
			      struct kh_error *err)
{
	struct kh_manifest_origin m = gen_origin(origin);

	return kh_facts_fresh(path, &m, fresh, err);
}

static const struct kh_gen_manifester gen_manifester = {
	.from_record = gen_manifest_from_record,
	.from_archive = gen_manifest_from_archive,
	.fresh = gen_manifest_fresh,
};

int kh_cmd_gen(int argc, char **argv)
{
	struct kh_gen_cli c = { .o = KH_GEN_OPTS_INIT };
	struct kh_gen_result res = KH_GEN_RESULT_INIT;
	struct kh_error err = KH_ERROR_INIT;
	int status;

	kh_treeopts_defaults(&c.o);
	c.o.manifester = &gen_manifester;
	status = kh_gen_parse(argc, argv, &c);
	if (status >= 0)
		return status;
	if (!c.no_state && !c.o.state) {
		if (asprintf(&c.state_buf, "%s.state", c.o.output) < 0) {
			kh_cli_error("out of memory");
			return KH_EXIT_ERROR;
		}
		c.o.state = c.state_buf;
	}
	/* The cache lives beside the state: a run without a state (one
	 * that must leave nothing behind but its outputs) has none. */
	if (!c.no_cache && !c.o.cache && c.o.state && !c.o.xz_single) {
		if (asprintf(&c.cache_buf, "%s.cache", c.o.output) < 0) {
			kh_cli_error("out of memory");
			free(c.state_buf);
			return KH_EXIT_ERROR;
		}
		c.o.cache = c.cache_buf;
	}
	if (c.no_cache)
		c.o.cache = NULL;
	status = kh_gen_check_paths(&c);
	/* Checked before -v prints them or the state records them. */
	if (status < 0 && kh_gen_check_opts(&c.o, &err) < 0)
		status = kh_cli_fail(&err);
	if (status < 0 &&
	    kh_treeopts_mtime(c.mtime_arg, &c.o.mtime, &c.mtime_src, &err) < 0)
		status = kh_cli_fail(&err);
	if (status >= 0) {
		free(c.state_buf);
		free(c.cache_buf);
		return status;
	}
	kh_gen_tool_id(c.tool, sizeof(c.tool));
	c.o.tool = c.tool;
	if (c.verbose)
		kh_gen_print_opts(&c);
	status = kh_gen_run(&c.o, &res, &err) < 0 ? kh_cli_fail(&err)
						   : KH_EXIT_OK;
	free(c.state_buf);
	free(c.cache_buf);
	if (status != KH_EXIT_OK)
		return status;
	kh_gen_report(&c, &res);
	return KH_EXIT_OK;
}
