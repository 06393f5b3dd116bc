/* kh_source: every subcommand's input, read one way (see kh_source.h). */
#include "extract/kh_source.h"

#include <stdlib.h>
#include <string.h>

#include "lib/kh_file.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_mtree.h"

struct kh_source {
	char *name;
	struct kh_image *img;   /* the archive's container, or NULL */
	unsigned char *text;    /* the manifest's text, or NULL */
	size_t len;
};

int kh_source_open(const char *path, int manifest_ok,
		   struct kh_source **out, struct kh_error *err)
{
	const char *name = strcmp(path, "-") ? path : "standard input";
	struct kh_source *s = calloc(1, sizeof(*s));
	unsigned char *buf = NULL;
	size_t len = 0;
	char lim[32];
	int ret;

	*out = NULL;
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	}
	ret = kh_image_load(path, &buf, &len, err);
	if (ret == 0 && manifest_ok && kh_mtree_is_text(buf, len)) {
		s->text = buf;
		s->len = len;
		if (len > KH_FILE_MAX_MANIFEST)
			ret = kh_error_set(err, KH_EINVAL, name, "over the %s "
					   "limit for a manifest; refusing to "
					   "read it", kh_file_size_str(
					   KH_FILE_MAX_MANIFEST, lim,
					   sizeof(lim)));
	} else if (ret == 0) {
		ret = kh_image_take(buf, len, name, KH_IMAGE_WHOLE_FALLBACK,
				    &s->img, err);
		if (ret == 0 && kh_image_size(s->img) > KH_FILE_MAX_ARCHIVE)
			ret = kh_error_set(err, KH_EINVAL, name, "its archive "
					   "is over the %s limit for an "
					   "archive; refusing to read it",
					   kh_file_size_str(KH_FILE_MAX_ARCHIVE,
							    lim, sizeof(lim)));
	}
	if (ret < 0) {
		kh_source_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

const char *kh_source_name(const struct kh_source *s)
{
	return s->name;
}

int kh_source_is_manifest(const struct kh_source *s)
{
	return s->text != NULL;
}

const unsigned char *kh_source_archive(const struct kh_source *s,
				       size_t *len)
{
	*len = s->img ? kh_image_size(s->img) : 0;
	return s->img ? kh_image_data(s->img) : NULL;
}

const struct kh_image *kh_source_image(const struct kh_source *s)
{
	return s->img;
}

int kh_source_manifest(const struct kh_source *s, unsigned flags,
		       struct kh_manifest **out, struct kh_error *err)
{
	size_t len;
	const unsigned char *a;

	if (s->text)
		return kh_mtree_parse((const char *)s->text, s->len,
					 s->name, out, err);
	a = kh_source_archive(s, &len);
	return kh_archive_read_mem(a, len, s->name, flags, out, err);
}

void kh_source_free(struct kh_source *s)
{
	if (!s)
		return;
	kh_image_free(s->img);
	free(s->text);
	free(s->name);
	free(s);
}
