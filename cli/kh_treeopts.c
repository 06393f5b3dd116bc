/* kh_treeopts: the options gen and verify --rebuild share (see
 * kh_treeopts.h). */
#include "cli/kh_treeopts.h"

#include <stdlib.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "gen/kh_blocks.h"
#include "lib/kh_time.h"

static const char *kh_treeopts_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void kh_treeopts_defaults(struct kh_gen_opts *o)
{
	const char *v = kh_treeopts_env("srctree");
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	o->srctree = v ? v : ".";
	o->arch = kh_treeopts_env("SRCARCH");
	o->threads = n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int kh_treeopts_threads(const char *s, int *out)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (!*s || *end || n < 1 || n > 64)
		return -1;
	*out = (int)n;
	return 0;
}

/* The options that change what is built: all but -j. */
static int kh_treeopts_tree(struct kh_treeopts *t, const char *cmd, int opt,
			    const char *arg)
{
	struct kh_gen_opts *o = t->o;

	switch (opt) {
	case KH_TOPT_SRCTREE: o->srctree = arg; break;
	case KH_TOPT_OBJTREE: o->objtree = arg; break;
	case KH_TOPT_ARCH: o->arch = arg; break;
	case KH_TOPT_MTIME: t->mtime_arg = arg; break;
	case KH_TOPT_NO_STRIP: o->strip = 0; break;
	case KH_TOPT_XZ_PRESET:
		if (arg[0] < '0' || arg[0] > '9' || arg[1]) {
			kh_cli_usage(cmd, "--xz-preset wants 0 to 9, not '%s'",
				     arg);
			return -1;
		}
		o->xz_preset = (uint32_t)(arg[0] - '0');
		break;
	case KH_TOPT_XZ_SINGLE: o->xz_single = 1; break;
	case KH_TOPT_XZ_BLOCK_SIZE:
		if (kh_cli_parse_size(arg, &o->xz_block_size) < 0 ||
		    o->xz_block_size < KH_BLOCKS_TARGET_MIN ||
		    o->xz_block_size > KH_GEN_XZ_BLOCK_SIZE_MAX) {
			kh_cli_usage(cmd, "--xz-block-size wants 64K to 1G, "
				     "not '%s'", arg);
			return -1;
		}
		o->xz_single = 0;
		break;
	default:
		return 0;
	}
	t->given = 1;
	return 1;
}

int kh_treeopts_parse(struct kh_treeopts *t, const char *cmd, int opt,
		      const char *arg)
{
	if (opt != 'j')
		return kh_treeopts_tree(t, cmd, opt, arg);
	if (kh_treeopts_threads(arg, &t->o->threads) < 0) {
		kh_cli_usage(cmd, "--threads wants a number from 1 to 64, "
			     "not '%s'", arg);
		return -1;
	}
	return 1;
}

/* --mtime, else KBUILD_BUILD_TIMESTAMP, else SOURCE_DATE_EPOCH, else 0:
 * never the clock or the files, so an unset variable still gives the
 * same archive everywhere. */
int kh_treeopts_mtime(const char *arg, int64_t *mtime, const char **src,
		      struct kh_error *err)
{
	const char *v;

	if (arg) {
		*src = "--mtime";
		return kh_time_parse(arg, "--mtime", mtime, err);
	}
	if ((v = kh_treeopts_env("KBUILD_BUILD_TIMESTAMP"))) {
		*src = "KBUILD_BUILD_TIMESTAMP";
		return kh_time_parse(v, *src, mtime, err);
	}
	if ((v = kh_treeopts_env("SOURCE_DATE_EPOCH"))) {
		*src = "SOURCE_DATE_EPOCH";
		return kh_time_parse_epoch(v, *src, mtime, err);
	}
	*src = "default";
	*mtime = 0;
	return 0;
}
