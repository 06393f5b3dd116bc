/* fuzz_archive: reading an archive into a manifest (manifest/
 * kh_archive_read.c kh_archive_read_mem), what `kheaders manifest`,
 * `verify` and `diff` do with archives from anywhere: our code around
 * libarchive's xz and tar readers, the hashing, the path normalising.
 *
 * Properties: it either fails with a message or gives a manifest that
 * formats to mtree text our parser reads back to the same entries.
 */
#include <string.h>

#include "fuzz.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_manifest *m = NULL, *m2 = NULL;
	struct kh_error err = KH_ERROR_INIT;
	char *text = NULL;
	size_t n = 0;

	if (kh_archive_read_mem(data, size, "fuzz", KH_ARCHIVE_READ_DATA, &m,
				&err) < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		return 0;
	}
	FUZZ_CHECK(kh_mtree_format(m, &text, &n, &err) == 0);
	if (kh_mtree_parse(text, n, "fuzz", &m2, &err) < 0) {
		fprintf(stderr, "reparse: %s\n", err.msg);
		FUZZ_CHECK(!"the manifest of an archive parses");
	}
	FUZZ_CHECK(kh_manifest_count(m2) == kh_manifest_count(m));
	for (size_t i = 0; i < kh_manifest_count(m); i++) {
		const struct kh_manifest_entry *a = kh_manifest_at(m, i);
		const struct kh_manifest_entry *b = kh_manifest_at(m2, i);

		FUZZ_CHECK(!strcmp(a->path, b->path) && a->type == b->type);
		FUZZ_CHECK(a->type != KH_MANIFEST_FILE || a->size == b->size);
	}
	free(text);
	kh_manifest_free(m);
	kh_manifest_free(m2);
	return 0;
}
