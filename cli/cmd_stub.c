/* cmd_stub: `kheaders stub`, the .S stub alone, for an archive that
 * already exists (the out-of-tree module build in kernel/Makefile wraps
 * a given kheaders_data.tar.xz; `gen --stub` would rebuild it). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/kh_cli.h"
#include "gen/kh_stub.h"
#include "lib/kh_afile.h"

static const char kh_stub_usage[] =
	"Usage: kheaders stub --incbin PATH -o FILE.S\n"
	"Write the assembler stub that embeds an existing archive in the\n"
	"kernel or in kheaders.ko: kernel_headers_data and\n"
	"kernel_headers_data_end in .rodata, between the IKHD_ST and IKHD_ED\n"
	"markers (the same text as 'kheaders gen --stub').\n"
	"\n"
	"      --incbin PATH  the archive, as the assembler will resolve it:\n"
	"                     from its working directory (Kbuild: the kernel\n"
	"                     tree) or its -I paths; an absolute path is safest\n"
	"  -o, --output FILE  the stub to write (replaced atomically)\n"
	"  -h, --help         show this help and exit\n"
	"\n"
	"Exit status: 0 success, 1 error, 2 usage error.\n";

static const struct option kh_stub_longopts[] = {
	{ "incbin", required_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int kh_cmd_stub(int argc, char **argv)
{
	struct kh_error err = KH_ERROR_INIT;
	const char *incbin = NULL, *output = NULL;
	char *text = NULL;
	size_t len = 0;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:h", kh_stub_longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'i': incbin = optarg; break;
		case 'o': output = optarg; break;
		case 'h':
			fputs(kh_stub_usage, stdout);
			return KH_EXIT_OK;
		default:
			return kh_cli_bad_option("stub", opt, argv);
		}
	}
	if (optind < argc)
		return kh_cli_usage("stub", "unexpected argument '%s'",
				    argv[optind]);
	if (!incbin || !*incbin)
		return kh_cli_usage("stub", "no archive: pass --incbin PATH");
	if (!output)
		return kh_cli_usage("stub", "no output: pass -o FILE.S");
	/* Under the same directory lock as gen and manifest -o: a gen
	 * --stub sweeping this directory must not take our temporary. */
	if (kh_stub_text(incbin, &text, &len, &err) == 0)
		kh_afile_replace(output, text, len, &err);
	free(text);
	return err.code ? kh_cli_fail(&err) : KH_EXIT_OK;
}
