/* kh_state: what the last `kheaders gen` built from, to skip the next.
 *
 * A text file next to the archive (OUTPUT.state) that replaces
 * upstream's kernel/kheaders.md5. It records the tool, the options that
 * decide the bytes, every output with its SHA-256, and every input with
 * its stat data and XXH3-128 (or symlink target). Paths are
 * percent-encoded so that any byte but NUL round-trips.
 *
 *   kheaders-state 2
 *   tool 0.1.0+<xxh128 of the binary>
 *   started <ns since the epoch when the walk began>
 *   option mtime=1234567890
 *   output archive <sha256> <xxh128> <size> <path>
 *   dir <tree> <ctime-ns> <inode> <rel> </tname>...|-
 *   input f <tree> <size> <mtime-ns> <ctime-ns> <inode> <xxh128> <rel>
 *   input l <tree> <size> <mtime-ns> <ctime-ns> <inode> <target> <rel>
 *   input p <tree> 0 0 0 0 - <rel>
 *   end <number of input lines>
 *
 * An input's ctime is recorded as git's index does: a same-size edit
 * that puts the mtime back (touch -d, tar, rsync -t) still moves the
 * ctime, which no one can set back, so the file is hashed again.
 * Version 2 added it; a state of another version is not read (the
 * next run rebuilds, as after any change of the tool).
 *
 * A dir line is a directory's listing as the walk used it (see
 * kh_walk_dirrec), so that the next walk need not read a directory
 * that did not change: "/" then 'd' (a directory) or 'u' (a name to
 * stat) then the name, for each name, or "-" for none. Dir lines come
 * before the input lines, so that a reader can use them early.
 */
#ifndef KH_STATE_H
#define KH_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"

#define KH_STATE_MAGIC "kheaders-state"
#define KH_STATE_VERSION 2
#define KH_STATE_MAX_OUTPUTS 4

/* An input's record. Its rel is never the state's: it lives in the text
 * the state was parsed from (which the state keeps) or in a walk list,
 * which must outlive the state. */
struct kh_state_input {
	const char *rel;
	char type;                      /* 'f' file, 'l' symlink, 'p' parents */
	int tree;
	long long size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	unsigned long long ino;
	unsigned char hash[KH_XXH128_LEN];   /* 'f' */
	char *target;                        /* 'l', owned */
};

/* An output's stat data, and when it was taken. When the file's ctime
 * was already well before checked_ns, the same stat data later means
 * the same file: any write or rename since would show in ctime, which
 * no one can set back. */
struct kh_state_ostat {
	int valid;
	unsigned long long dev, ino;
	int64_t mtime_ns, ctime_ns, checked_ns;
};

struct kh_state_output {
	char *role;                     /* "archive", "stub" */
	char *path;
	unsigned char sha256[KH_SHA256_LEN];  /* for people and manifests */
	unsigned char xxh128[KH_XXH128_LEN];  /* for the cheap no-op check */
	unsigned long long size;
	struct kh_state_ostat stat;     /* optional ("outstat" line) */
};

/* A directory listing (see kh_walk_dirrec): names holds nlen bytes of
 * "<t><name>\0" entries. Its strings are never owned by the state. */
struct kh_state_dir {
	const char *rel;
	int tree;
	int64_t ctime_ns;
	unsigned long long ino;
	const char *names;
	size_t nlen;
};

/* The fields are kh_state.c's (and its unit test's): every other module
 * goes through the functions below, which keep the ownership rules
 * (what is copied, what is borrowed, what moves) in one place. */
struct kh_state {
	char *tool;
	int64_t started_ns;
	char **options;                 /* "key=value", in a fixed order */
	size_t noptions;
	struct kh_state_output out[KH_STATE_MAX_OUTPUTS];
	size_t nout;
	struct kh_state_input *in;
	size_t nin, cap;
	struct kh_state_dir *dirs;      /* owned array, borrowed strings */
	size_t ndirs, dcap;
	char *text;                     /* parsed text, owned: parsed rels */
	/* Called once, from the parser, when every dir line is parsed
	 * and before the first input line: the walk can start using them
	 * while the inputs are still being read. Optional. */
	void (*dirs_parsed)(const struct kh_state *st, void *ctx);
	void *dirs_ctx;
};

/* Every field 0 or NULL: an empty state. */
#define KH_STATE_INIT { .tool = NULL }

/* Read path into st. A missing file is not an error: *found is 0. A
 * malformed one is (KH_EINVAL, with the line number). */
int kh_state_load(const char *path, struct kh_state *st, int *found,
		  struct kh_error *err);

/* The same, from text in memory (len bytes, NUL not needed); name is
 * for messages. The state file's whole parser: a fuzz target. */
int kh_state_parse(const char *text, size_t len, const char *name,
		   struct kh_state *st, struct kh_error *err);

/* The text kh_state_save writes (malloc'ed, *len bytes, NUL-terminated). */
int kh_state_format(const struct kh_state *st, char **text, size_t *len,
		    struct kh_error *err);

/* Write st to path atomically. */
int kh_state_save(const char *path, const struct kh_state *st,
		  struct kh_error *err);

/* Before parsing (kh_state_load or kh_state_parse): call fn(st, ctx)
 * once, as soon as every dir line is parsed and before any input line
 * is, so that a walk can use the records while the inputs are read. */
void kh_state_on_dirs(struct kh_state *st,
		      void (*fn)(const struct kh_state *st, void *ctx),
		      void *ctx);

/* ---- tool, start, options ---- */

/* The identity of the tool that wrote it ("" when not set). */
const char *kh_state_tool(const struct kh_state *st);

/* Set the tool (copied). */
int kh_state_set_tool(struct kh_state *st, const char *tool,
		      struct kh_error *err);

/* When the run that made it started walking (ns since the epoch). */
int64_t kh_state_started(const struct kh_state *st);
void kh_state_set_started(struct kh_state *st, int64_t ns);

/* Append an option "key=value" (copied). */
int kh_state_add_option(struct kh_state *st, const char *kv,
			struct kh_error *err);

/* The options, in the order added; *n of them. */
char *const *kh_state_options(const struct kh_state *st, size_t *n);

/* ---- outputs ---- */

/* Append an output (strings copied). */
int kh_state_add_output(struct kh_state *st, const char *role,
			const char *path, const unsigned char *sha256,
			const unsigned char *xxh128, unsigned long long size,
			struct kh_error *err);

/* The last output appended gets this stat record. */
void kh_state_set_output_stat(struct kh_state *st,
			      const struct kh_state_ostat *os);

/* Output i (in the order added) gets this stat record. */
void kh_state_set_output_stat_at(struct kh_state *st, size_t i,
				 const struct kh_state_ostat *os);

size_t kh_state_noutputs(const struct kh_state *st);
const struct kh_state_output *kh_state_output(const struct kh_state *st,
					      size_t i);

/* The output of that role, or NULL. */
const struct kh_state_output *kh_state_find_output(const struct kh_state *st,
						   const char *role);

/* Forget the output of that role, if there is one (the others keep
 * their order). */
void kh_state_drop_output(struct kh_state *st, const char *role);

/* ---- inputs ---- */

/* Append an input for rel (borrowed: see kh_state_input) and return it,
 * zeroed but for rel, for the caller to fill (target malloc'ed, then
 * owned by st); NULL when out of memory. */
struct kh_state_input *kh_state_add_input(struct kh_state *st,
					  const char *rel,
					  struct kh_error *err);

size_t kh_state_ninputs(const struct kh_state *st);
const struct kh_state_input *kh_state_input(const struct kh_state *st,
					    size_t i);

/* Input i's stat data, taken again (its content found unchanged). */
void kh_state_set_input_stat(struct kh_state *st, size_t i, long long size,
			     int64_t mtime_ns, int64_t ctime_ns,
			     unsigned long long ino);

/* Move from's inputs (and the text their paths live in) and outputs to
 * to, which has none; from keeps the rest. Taken, not copied: a no-op
 * run carries tens of thousands of records forward. */
int kh_state_take_records(struct kh_state *to, struct kh_state *from,
			  struct kh_error *err);

/* ---- directory records ---- */

/* Append a directory record (its strings borrowed: they must outlive
 * st). */
int kh_state_add_dir(struct kh_state *st, const struct kh_state_dir *d,
		     struct kh_error *err);

/* Forget every directory record (to record a new walk's). */
void kh_state_clear_dirs(struct kh_state *st);

size_t kh_state_ndirs(const struct kh_state *st);
const struct kh_state_dir *kh_state_dir(const struct kh_state *st, size_t i);

void kh_state_release(struct kh_state *st);

/* Percent-encoding used for paths and targets (exposed for tests).
 * Returns a malloc'ed string or NULL. */
char *kh_state_escape(const char *s);
char *kh_state_unescape(const char *s);

#endif
