/* kh_cli: what the subcommands of the kheaders front end share.
 *
 * Only the front end prints and exits. Exit statuses, the one place
 * they are defined (documented in kheaders(1)):
 *   0  success (diff, verify: the same)
 *   1  an error: bad input tree, I/O failure, unparsable timestamp...
 *      (diff, verify: they differ, as diff(1) says)
 *   2  usage: unknown option, missing argument (diff, verify: any
 *      trouble, as diff(1) says)
 */
#ifndef KH_CLI_H
#define KH_CLI_H

#include <stdint.h>

#include "lib/kh_error.h"

#define KH_EXIT_OK 0
#define KH_EXIT_ERROR 1
#define KH_EXIT_USAGE 2
#define KH_EXIT_DIFFER 1    /* diff, verify */
#define KH_EXIT_TROUBLE 2   /* diff, verify */

/* "kheaders: <message>" on stderr. */
void kh_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a library error and return KH_EXIT_ERROR. */
int kh_cli_fail(const struct kh_error *err);

/* Usage error: message, a hint to --help, and KH_EXIT_USAGE. */
int kh_cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* getopt_long's complaint (opt ':', a missing argument, or '?', an
 * unknown option) about argv[optind - 1], as kh_cli_usage of cmd. */
int kh_cli_bad_option(const char *cmd, int opt, char **argv);

/* A size in bytes, with an optional K/M/G (KiB/MiB/GiB) suffix: 0, or
 * -1 if s is not one. */
int kh_cli_parse_size(const char *s, uint64_t *out);

/* The `gen` subcommand. */
int kh_cmd_gen(int argc, char **argv);

/* The `stub` subcommand: the .S stub for an existing archive. */
int kh_cmd_stub(int argc, char **argv);

/* The manifest subcommands (exit statuses of verify and diff follow
 * diff(1): 0 same, 1 different, 2 trouble). */
int kh_cmd_manifest(int argc, char **argv);
int kh_cmd_verify(int argc, char **argv);
int kh_cmd_diff(int argc, char **argv);

/* The `extract` subcommand: take the archive out and unpack it. */
int kh_cmd_extract(int argc, char **argv);

#endif
