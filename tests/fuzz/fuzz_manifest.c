/* fuzz_manifest: the mtree manifest reader (manifest/kh_mtree.c
 * kh_mtree_parse), fed what verify, diff and extract --manifest
 * read from users.
 *
 * Properties: a parse either fails with a message or succeeds; what
 * succeeds formats to text that parses again, to the same entries, and
 * formats to the same text (format . parse is idempotent).
 */
#include <string.h>

#include "fuzz.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_manifest *m = NULL, *m2 = NULL;
	struct kh_error err = KH_ERROR_INIT;
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;

	if (kh_mtree_parse((const char *)data, size, "fuzz", &m,
			      &err) < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		FUZZ_CHECK(m == NULL);
		return 0;
	}
	for (size_t i = 0; i < kh_manifest_count(m); i++) {
		const struct kh_manifest_entry *e = kh_manifest_at(m, i);

		FUZZ_CHECK(e->path && (e->path[0] == '.'));
		FUZZ_CHECK(kh_manifest_find(m, e->path) >= 0);
	}
	FUZZ_CHECK(kh_mtree_format(m, &t1, &n1, &err) == 0);
	if (kh_mtree_parse(t1, n1, "fuzz", &m2, &err) < 0) {
		fprintf(stderr, "reparse: %s\n---\n%.*s---\n", err.msg,
			(int)n1, t1);
		FUZZ_CHECK(!"formatted manifest parses again");
	}
	FUZZ_CHECK(kh_manifest_count(m2) == kh_manifest_count(m));
	for (size_t i = 0; i < kh_manifest_count(m); i++)
		FUZZ_CHECK(!strcmp(kh_manifest_at(m, i)->path,
				   kh_manifest_at(m2, i)->path));
	FUZZ_CHECK(kh_mtree_format(m2, &t2, &n2, &err) == 0);
	if (n1 != n2 || memcmp(t1, t2, n1))
		fprintf(stderr, "---\n%.*s---\n%.*s---\n", (int)n1, t1,
			(int)n2, t2);
	FUZZ_CHECK(n1 == n2 && !memcmp(t1, t2, n1));
	free(t1);
	free(t2);
	kh_manifest_free(m);
	kh_manifest_free(m2);
	return 0;
}
