/* cmd_manifest: `kheaders manifest ARCHIVE`, the mtree manifest of any
 * existing archive, on standard output or atomically into a file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/kh_cli.h"
#include "extract/kh_source.h"
#include "lib/kh_afile.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_facts.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

static const char kh_manifest_usage[] =
	"Usage: kheaders manifest [-o FILE] ARCHIVE\n"
	"Print the BSD mtree manifest of an existing headers archive: one\n"
	"line per entry in archive order (type, mode, uid, gid, size, time,\n"
	"sha256digest, link), after comment lines with the SHA-256 and size\n"
	"of the tar and of the archive file. ARCHIVE may be a .tar.xz,\n"
	"/sys/kernel/kheaders.tar.xz, /proc/kheaders.tar.xz or - (standard\n"
	"input). How the archive was built (tree, options) is unknown here\n"
	"and said so; `kheaders gen --manifest` records it.\n"
	"\n"
	"  -o, --output FILE   write FILE (atomically) instead of stdout\n"
	"  -h, --help          show this help and exit\n"
	"\n"
	"The same archive always gives the same bytes. `bsdtar -tvf FILE`\n"
	"lists a manifest; `kheaders verify` and `kheaders diff` use it.\n"
	"Exit status: 0 success, 1 error, 2 usage error.\n";

static const struct option kh_manifest_longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int kh_manifest_emit(const char *output, const char *text, size_t len,
			    struct kh_error *err)
{
	if (!output) {
		fwrite(text, 1, len, stdout);
		return 0;
	}
	/* As gen does: one writer at a time per directory, and what a
	 * killed run left behind goes first. */
	return kh_afile_replace(output, text, len, err);
}

int kh_cmd_manifest(int argc, char **argv)
{
	struct kh_source *src = NULL;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = NULL;
	const char *output = NULL;
	char *text = NULL;
	size_t len = 0;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:h", kh_manifest_longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'o': output = optarg; break;
		case 'h':
			fputs(kh_manifest_usage, stdout);
			return KH_EXIT_OK;
		default:
			return kh_cli_bad_option("manifest", opt, argv);
		}
	}
	if (optind == argc)
		return kh_cli_usage("manifest", "no archive given");
	if (optind + 1 < argc)
		return kh_cli_usage("manifest", "unexpected argument '%s'",
				    argv[optind + 1]);
	ret = kh_source_open(argv[optind], 0, &src, &err);
	if (ret == 0)
		ret = kh_source_manifest(src, 0, &m, &err);
	kh_source_free(src);
	if (ret == 0)
		ret = kh_facts_describe(m, NULL, &err);
	if (ret == 0)
		ret = kh_mtree_format(m, &text, &len, &err);
	if (ret == 0)
		ret = kh_manifest_emit(output, text, len, &err);
	free(text);
	kh_manifest_free(m);
	return ret < 0 ? kh_cli_fail(&err) : KH_EXIT_OK;
}
