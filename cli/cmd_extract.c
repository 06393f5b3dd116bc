/* cmd_extract: `kheaders extract [SOURCE] DIR`. Finds the archive in
 * the source (kh_image), unpacks it safely into a new directory
 * (kh_extract), optionally checking it against a SHA-256 or a manifest
 * (kh_xverify), and reports. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"
#include "extract/kh_extract.h"
#include "extract/kh_image.h"
#include "extract/kh_xverify.h"
#include "lib/kh_hash.h"

static const char kh_extract_usage[] =
	"Usage: kheaders extract [OPTION]... [SOURCE] DIR\n"
	"Take the in-kernel headers archive out of SOURCE and unpack it into\n"
	"the new directory DIR, in-process and safely.\n"
	"\n"
	"SOURCE is one of (default: " KH_IMAGE_SYSFS ",\n"
	"else " KH_IMAGE_PROCFS ", of the running kernel):\n"
	"  " KH_IMAGE_SYSFS " or " KH_IMAGE_PROCFS "\n"
	"  a kheaders_data.tar.xz, or - for standard input\n"
	"  a kheaders.ko (also .ko.xz), or any ELF file that defines\n"
	"    kernel_headers_data and kernel_headers_data_end\n"
	"  a kernel image: vmlinux, raw Image, or compressed: bzImage or\n"
	"    vmlinuz (gzip, bzip2, lzma, xz, lzo, lz4 or zstd payload),\n"
	"    Image.gz, EFI zboot vmlinuz.efi, .ko.zst, .ko.gz; or any\n"
	"    file with the archive between the IKHD_ST and IKHD_ED markers\n"
	"manifest, verify and diff read the same sources.\n"
	"\n"
	"      --sha256 HEX     the archive (.tar.xz bytes) must have this\n"
	"                       SHA-256\n"
	"      --manifest FILE  every entry must match the manifest (mtree,\n"
	"                       as 'kheaders manifest' writes), nothing\n"
	"                       missing or extra; and the archive's SHA-256\n"
	"                       when the manifest records it\n"
	"      --replace        replace DIR if it exists (a directory), in one\n"
	"                       step once the new tree is complete\n"
	"  -v, --verbose        say where the archive was found and what was\n"
	"                       extracted\n"
	"  -h, --help           show this help and exit\n"
	"\n"
	"DIR must not exist: the tree is built in a temporary directory beside\n"
	"it and renamed into place, so DIR is either absent or complete.\n"
	"Refused, with nothing left behind: absolute paths, '..', anything\n"
	"written through a symlink, hard links to anything but a file of the\n"
	"archive, hard links that carry data, sparse files, device nodes,\n"
	"FIFOs and sockets.\n"
	"Exit status: 0 success, 1 error (including a refused archive or a\n"
	"failed check), 2 usage error.\n";

enum {
	KH_OPT_SHA256 = 256,
	KH_OPT_MANIFEST,
	KH_OPT_REPLACE,
};

static const struct option kh_extract_longopts[] = {
	{ "sha256", required_argument, NULL, KH_OPT_SHA256 },
	{ "manifest", required_argument, NULL, KH_OPT_MANIFEST },
	{ "replace", no_argument, NULL, KH_OPT_REPLACE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kh_extract_cli {
	struct kh_extract_opts o;
	const char *source;
	const char *manifest;
	unsigned char sha256[KH_SHA256_LEN];
	int verbose;
};

/* The signal that asked us to stop; the library polls it and cleans up,
 * then we die of it as the front end's default handler would. */
static volatile sig_atomic_t kh_extract_sig;

static void kh_extract_on_signal(int sig)
{
	kh_extract_sig = sig;
}

static void kh_extract_signals(struct sigaction *old)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kh_extract_on_signal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
}

static void kh_extract_signals_restore(const struct sigaction *old)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (kh_extract_sig) {
		signal(kh_extract_sig, SIG_DFL);
		raise(kh_extract_sig);
	}
}

/* Returns -1 to continue, or the exit status. */
static int kh_extract_parse(int argc, char **argv, struct kh_extract_cli *c)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", kh_extract_longopts,
				  NULL)) != -1) {
		switch (opt) {
		case KH_OPT_SHA256:
			if (strlen(optarg) != 2 * KH_SHA256_LEN ||
			    kh_hash_unhex(optarg, c->sha256, KH_SHA256_LEN) < 0)
				return kh_cli_usage("extract", "--sha256 wants "
						    "64 hex digits, not '%s'",
						    optarg);
			c->o.sha256 = c->sha256;
			break;
		case KH_OPT_MANIFEST: c->manifest = optarg; break;
		case KH_OPT_REPLACE: c->o.replace = 1; break;
		case 'v': c->verbose = 1; break;
		case 'h':
			fputs(kh_extract_usage, stdout);
			return KH_EXIT_OK;
		default:
			return kh_cli_bad_option("extract", opt, argv);
		}
	}
	switch (argc - optind) {
	case 1:
		c->o.dir = argv[optind];
		break;
	case 2:
		c->source = argv[optind];
		c->o.dir = argv[optind + 1];
		break;
	case 0:
		return kh_cli_usage("extract", "no directory to extract to");
	default:
		return kh_cli_usage("extract", "unexpected argument '%s'",
				    argv[optind + 2]);
	}
	if (!*c->o.dir)
		return kh_cli_usage("extract", "empty directory name");
	return -1;
}

/* The running kernel's file: sysfs, where bcc looks, else procfs. */
static const char *kh_extract_default_source(void)
{
	if (access(KH_IMAGE_SYSFS, F_OK) == 0)
		return KH_IMAGE_SYSFS;
	if (access(KH_IMAGE_PROCFS, F_OK) == 0)
		return KH_IMAGE_PROCFS;
	return NULL;
}

static void kh_extract_report(const struct kh_extract_cli *c,
			      const struct kh_image *img,
			      const struct kh_extract_result *res)
{
	const struct kh_image_blob *b = kh_image_blob(img);
	unsigned char h[KH_SHA256_LEN];
	char hex[2 * KH_SHA256_LEN + 1] = "?";
	struct kh_error err = KH_ERROR_INIT;

	const char *comp, *where;
	char in[128] = "";

	if (kh_hash_sha256(kh_image_data(img), kh_image_size(img), h,
			   &err) == 0)
		kh_hash_hex(h, KH_SHA256_LEN, hex);
	if (kh_image_payload(img, &comp, &where))
		snprintf(in, sizeof(in), " in the %s-compressed %s", comp,
			 where);
	else if (kh_image_was_compressed(img))
		snprintf(in, sizeof(in), " (in xz-compressed image)");
	fprintf(stderr,
		"kheaders extract: %s: archive found by %s%s, %zu bytes at "
		"offset %zu\n"
		"kheaders extract: archive sha256 %s\n"
		"kheaders extract: %s: %zu files, %zu directories, %zu "
		"symlinks, %zu hard links, %llu bytes%s\n",
		c->source, kh_image_how_name(b->how), in,
		b->size, b->offset, hex, c->o.dir, res->files, res->dirs,
		res->symlinks, res->hardlinks,
		(unsigned long long)res->bytes,
		c->manifest ? "; matches the manifest" : "");
}

int kh_cmd_extract(int argc, char **argv)
{
	struct kh_extract_cli c = { .o = KH_EXTRACT_OPTS_INIT };
	struct kh_extract_result res = KH_EXTRACT_RESULT_INIT;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_xverify *xv = NULL;
	struct kh_image *img = NULL;
	struct sigaction old[3];
	int status;

	status = kh_extract_parse(argc, argv, &c);
	if (status >= 0)
		return status;
	if (!c.source && !(c.source = kh_extract_default_source())) {
		kh_cli_error("neither %s nor %s exists: load the module "
			     "(modprobe kheaders) or name a SOURCE",
			     KH_IMAGE_SYSFS, KH_IMAGE_PROCFS);
		return KH_EXIT_ERROR;
	}
	if (c.manifest && kh_xverify_new(c.manifest, &xv, &err) < 0)
		return kh_cli_fail(&err);
	if (kh_image_open(c.source, &img, &err) < 0) {
		status = kh_cli_fail(&err);
		goto out;
	}
	if (xv) {
		c.o.verify = kh_xverify_verifier(xv);
		if (kh_xverify_archive(xv, kh_image_data(img),
				       kh_image_size(img), &err) < 0) {
			status = kh_cli_fail(&err);
			goto out;
		}
	}
	c.o.cancel = &kh_extract_sig;
	kh_extract_signals(old);
	status = kh_extract_run(kh_image_data(img), kh_image_size(img),
				strcmp(c.source, "-") ? c.source :
				"standard input", &c.o, &res, &err);
	kh_extract_signals_restore(old);
	if (status < 0) {
		status = kh_cli_fail(&err);
		goto out;
	}
	status = KH_EXIT_OK;
	if (c.verbose)
		kh_extract_report(&c, img, &res);
out:
	kh_image_free(img);
	kh_xverify_free(xv);
	return status;
}
