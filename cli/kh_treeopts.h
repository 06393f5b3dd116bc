/* kh_treeopts: the tree and xz options that gen and verify --rebuild
 * share: one getopt_long table fragment, one handler, one help text
 * and one set of defaults, so that the two commands cannot drift
 * apart (issue 15). Each command keeps its own options around them.
 */
#ifndef KH_TREEOPTS_H
#define KH_TREEOPTS_H

#include <getopt.h>
#include <stdint.h>

#include "gen/kh_gen.h"
#include "lib/kh_error.h"

/* getopt_long values, above any command's own (which start at 256). */
enum {
	KH_TOPT_SRCTREE = 512,
	KH_TOPT_OBJTREE,
	KH_TOPT_ARCH,
	KH_TOPT_MTIME,
	KH_TOPT_NO_STRIP,
	KH_TOPT_XZ_PRESET,
	KH_TOPT_XZ_SINGLE,
	KH_TOPT_XZ_BLOCK_SIZE,
};

/* Put in a command's struct option table; its short options must
 * include "j:". */
#define KH_TREEOPTS_LONGOPTS \
	{ "srctree", required_argument, NULL, KH_TOPT_SRCTREE }, \
	{ "objtree", required_argument, NULL, KH_TOPT_OBJTREE }, \
	{ "arch", required_argument, NULL, KH_TOPT_ARCH }, \
	{ "mtime", required_argument, NULL, KH_TOPT_MTIME }, \
	{ "no-strip", no_argument, NULL, KH_TOPT_NO_STRIP }, \
	{ "xz-preset", required_argument, NULL, KH_TOPT_XZ_PRESET }, \
	{ "xz-single", no_argument, NULL, KH_TOPT_XZ_SINGLE }, \
	{ "xz-block-size", required_argument, NULL, KH_TOPT_XZ_BLOCK_SIZE }, \
	{ "threads", required_argument, NULL, 'j' }

/* Their lines of --help, in a command's usage text. */
#define KH_TREEOPTS_HELP \
	"      --srctree DIR   kernel source tree (default: $srctree, else .)\n" \
	"      --objtree DIR   build tree (default: the current directory)\n" \
	"      --arch NAME     source architecture (default: $SRCARCH)\n" \
	"      --mtime WHEN    mtime of every entry: @SECONDS or a date as\n" \
	"                      date, date -R, date -u or date -I print it\n" \
	"                      (default: $KBUILD_BUILD_TIMESTAMP, else\n" \
	"                      $SOURCE_DATE_EPOCH, else @0); no zone means UTC\n" \
	"      --no-strip      keep comments\n" \
	"      --xz-preset N   xz preset 0..9 (default 6, what upstream uses;\n" \
	"                      other presets change the bytes)\n" \
	"      --xz-block-size SIZE\n" \
	"                      xz blocks of about SIZE bytes (K, M suffixes;\n" \
	"                      default 4M), cut where the content says,\n" \
	"                      compressed in parallel; any xz decoder reads\n" \
	"                      them; SIZE changes the bytes\n" \
	"      --xz-single     one xz stream on one thread instead: the bytes\n" \
	"                      of upstream's `tar -I xz` (xz 5.4), slower\n" \
	"  -j, --threads N     reader and compression threads (default:\n" \
	"                      online CPUs); never changes the output\n"

struct kh_treeopts {
	struct kh_gen_opts *o;
	const char *mtime_arg;   /* --mtime as given, or NULL */
	int given;               /* a tree or xz option was given (-j is
				  * neither: it never changes the output) */
};

/* The defaults from the environment: srctree ($srctree, else .), arch
 * ($SRCARCH), threads (online CPUs, at most 64). */
void kh_treeopts_defaults(struct kh_gen_opts *o);

/* Take opt (getopt_long's value) with its argument if it is one of
 * ours: 1 taken, 0 not ours, -1 a bad argument, reported as a usage
 * error of cmd (the caller exits 2). */
int kh_treeopts_parse(struct kh_treeopts *t, const char *cmd, int opt,
		      const char *arg);

/* gen's mtime rule: arg (--mtime), else KBUILD_BUILD_TIMESTAMP, else
 * SOURCE_DATE_EPOCH, else 0; *src names the one used ("default" for
 * none). */
int kh_treeopts_mtime(const char *arg, int64_t *mtime, const char **src,
		      struct kh_error *err);

#endif
