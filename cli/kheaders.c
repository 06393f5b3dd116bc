/* kheaders: front end. Dispatches subcommands, owns printing, signals
 * and exit statuses; everything else lives in the library modules. */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "gen/kh_bcache.h"
#include "lib/kh_afile.h"
#include "lib/kh_dl.h"
#include "lib/kh_tmpdir.h"

#ifndef KH_VERSION
#define KH_VERSION "unknown"
#endif

static const char kh_usage[] =
	"Usage: kheaders COMMAND [OPTION]...\n"
	"Build the Linux in-kernel headers archive (CONFIG_IKHEADERS)\n"
	"reproducibly, without cpio, perl, tar or xz.\n"
	"\n"
	"Commands:\n"
	"  gen        build kheaders_data.tar.xz (and its .S stub) from a "
	"kernel tree\n"
	"  stub       write the .S stub that embeds an existing archive\n"
	"  manifest   print the mtree manifest of an archive\n"
	"  verify     check an archive against its manifest, or rebuild it\n"
	"             from the tree and compare (reproducible-build check)\n"
	"  diff       compare two archives or manifests\n"
	"  extract    take the archive out of a running kernel, a module, an\n"
	"             image or a .tar.xz, and unpack it safely\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help and exit\n"
	"  -V, --version  show the version and exit\n"
	"\n"
	"Run 'kheaders COMMAND --help' for a command's options; see "
	"kheaders(1).\n"
	"Exit status: 0 success, 1 error, 2 usage error.\n";

void kh_cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kheaders: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int kh_cli_fail(const struct kh_error *err)
{
	kh_cli_error("%s", err->msg[0] ? err->msg : "unknown error");
	return KH_EXIT_ERROR;
}

int kh_cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
	}
	if (*end || n > (UINT64_MAX >> 2) >> shift)
		return -1;
	*out = (uint64_t)n << shift;
	return 0;
}

int kh_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("kheaders: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kheaders %s%s--help'.\n", cmd ? cmd : "",
		cmd ? " " : "");
	return KH_EXIT_USAGE;
}

int kh_cli_bad_option(const char *cmd, int opt, char **argv)
{
	if (opt == ':')
		return kh_cli_usage(cmd, "option '%s' needs an argument",
				    argv[optind - 1]);
	return kh_cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* Remove temporaries, then die of the same signal so the parent (make)
 * sees how we ended. */
static void kh_cli_signal(int sig)
{
	kh_afile_unlink_all();
	kh_bcache_unlink_all();
	kh_tmpdir_unlink_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void kh_cli_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kh_cli_signal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* A file size limit (ulimit -f) is a write error like a full
	 * disk: EFBIG, a message naming the file, exit 1, the previous
	 * outputs kept and no temporary left. SIGXFSZ's default would
	 * kill us without a word, the temporaries left behind. */
	signal(SIGXFSZ, SIG_IGN);
}

/* stdout may be a full disk or a closed pipe: say so, never exit 0. */
static int kh_cli_close_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		kh_cli_error("standard output: write error");
		return status ? status : KH_EXIT_ERROR;
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int status;

	kh_cli_signals();
	if (!cmd)
		return kh_cli_usage(NULL, "no command given");
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		fputs(kh_usage, stdout);
		return kh_cli_close_stdout(KH_EXIT_OK);
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("kheaders %s\n", KH_VERSION);
		/* Not in ldd's list: packagers and initramfs builders
		 * need to know them. */
		printf("loads when needed: %s %s %s\n", kh_dl_archive_soname(),
		       kh_dl_crypto_soname(), kh_dl_decomp_sonames());
		return kh_cli_close_stdout(KH_EXIT_OK);
	}
	if (!strcmp(cmd, "gen"))
		status = kh_cmd_gen(argc - 1, argv + 1);
	else if (!strcmp(cmd, "stub"))
		status = kh_cmd_stub(argc - 1, argv + 1);
	else if (!strcmp(cmd, "manifest"))
		status = kh_cmd_manifest(argc - 1, argv + 1);
	else if (!strcmp(cmd, "verify"))
		status = kh_cmd_verify(argc - 1, argv + 1);
	else if (!strcmp(cmd, "diff"))
		status = kh_cmd_diff(argc - 1, argv + 1);
	else if (!strcmp(cmd, "extract"))
		status = kh_cmd_extract(argc - 1, argv + 1);
	else
		return kh_cli_usage(NULL, "unknown command '%s'", cmd);
	return kh_cli_close_stdout(status);
}
