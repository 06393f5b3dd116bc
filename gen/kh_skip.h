/* kh_skip: are the last run's outputs still this run's? The skip decision.
 *
 * Kbuild runs gen on every make, so this is the common case and must
 * never miss a change (doc/kheaders.1, SKIPPING WORK). It compares the
 * last run's state with this run, first difference wins: the tool, the
 * options, the outputs (trusted by stat data when their ctime was old
 * when recorded, else hashed), the set of inputs, each input (trusted by
 * stat data unless racily clean, else read and hashed).
 *
 * It reads (stat, and the files stat cannot vouch for) and writes
 * nothing. The pipeline (kh_gen) acts on the answer: it rebuilds, or it
 * carries the last state forward (kh_skip_carry) and saves it when the
 * carried state lets the next run hash less.
 */
#ifndef KH_SKIP_H
#define KH_SKIP_H

#include <stddef.h>
#include <stdint.h>

#include "gen/kh_state.h"
#include "gen/kh_walk.h"
#include "lib/kh_error.h"

/* Inputs whose mtime or ctime is this close to the start of the run
 * that recorded them are hashed again, however their stat data looks:
 * an edit in the same timestamp tick leaves stat data unchanged (git's
 * "racily clean" problem). Generous, since coarse filesystem clocks
 * lag. Outputs and directory records are trusted by the same rule. */
#define KH_SKIP_RACY_NS INT64_C(1000000000)

#define KH_SKIP_REASON_MAX 512

/* What this run asks for, and what the last one left. */
struct kh_skip_in {
	const char *state;            /* the state file; NULL: none in use */
	int force;                    /* rebuild whatever the state says */
	const struct kh_state *cur;   /* this run's tool and options */
	const char *output;           /* the archive */
	const char *stub;             /* the stub, or NULL */
	/* The last run's state (kh_state_load), or NULL: then load_err
	 * says why it could not be read, or is NULL when there was none. */
	const struct kh_state *prev;
	const struct kh_error *load_err;
};

struct kh_skip {
	int up_to_date;
	char reason[KH_SKIP_REASON_MAX];  /* why not: the first change */
	size_t rehashed;                  /* inputs read to check them */
	size_t out_hashed;                /* outputs read to check them */
};

#define KH_SKIP_INIT { .up_to_date = 0 }

/* Decide against list (the walk of this run, in tar order). A state
 * that is missing, unreadable, corrupt or of another version is a
 * reason to rebuild, never an error; an input that cannot be read
 * again is (KH_E*). The manifest, when the last run wrote one, is not
 * looked at: a stale manifest is rewritten without a rebuild. */
int kh_skip_decide(const struct kh_skip_in *in,
		   const struct kh_walk_list *list, struct kh_skip *d,
		   struct kh_error *err);

/* Up to date: make next (this run's tool, options and directory
 * records) the state to record: prev's inputs and outputs, taken (prev
 * keeps the rest), the inputs with this walk's stat data, the outputs
 * (but the manifest) with their stat data taken again when some were
 * hashed. *save is set when next lets the next run trust more than
 * prev did: stat data of inputs hashed again, of outputs that now
 * vouch for them, directories read again for want of a record. */
int kh_skip_carry(const struct kh_skip *d, const struct kh_walk_list *list,
		  struct kh_state *prev, struct kh_state *next, int *save,
		  struct kh_error *err);

/* path's stat data as a state records it, taken now; os->valid is 0
 * when it is not a regular file that can be stat'ed. */
void kh_skip_ostat(const char *path, struct kh_state_ostat *os);

/* Hash an output of an earlier run (SHA-256 and/or XXH3, either may be
 * NULL). Only the regular file itself: a symlink planted there is not
 * followed to someone else's file, and a FIFO does not hang us. */
int kh_skip_hash_output(const char *path, unsigned char *sha256,
			unsigned char *xxh128, unsigned long long *size,
			struct kh_error *err);

/* The record of walk entry e, appended to st: type, tree and stat data
 * (none for a silly-rename name's parents); its rel borrowed from the
 * walk list; hash and target are the caller's to fill. */
struct kh_state_input *kh_skip_record(struct kh_state *st,
				      const struct kh_walk_entry *e,
				      struct kh_error *err);

/* The walk's directory records into st, replacing any (their strings
 * stay in list, which must outlive st). */
int kh_skip_record_dirs(const struct kh_walk_list *list, struct kh_state *st,
			struct kh_error *err);

#endif
