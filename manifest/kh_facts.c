/* kh_facts: what a manifest states of how its archive was made: the
 * kernel's version and release read from the tree (its Makefile and
 * generated headers), gen's options under readable names, and whether
 * a manifest on disk still states them (see kh_facts.h).
 */
#include "manifest/kh_facts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_time.h"

#ifndef KH_VERSION
#define KH_VERSION "unknown"
#endif

/* Tree facts are read from the first lines of small files; anything
 * longer than this is not the file we are looking for. */
#define KH_FACTS_MAX 65536
#define KH_FACTS_MAKEFILE_LINES 64

/* The first bytes of root/rel as a string, or NULL when absent. */
static char *kh_facts_slurp_small(const char *root, const char *rel)
{
	char path[4096];
	FILE *fp;
	char *buf;
	size_t n;

	if (!root)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fp = fopen(path, "re");
	if (!fp)
		return NULL;
	buf = malloc(KH_FACTS_MAX + 1);
	n = buf ? fread(buf, 1, KH_FACTS_MAX, fp) : 0;
	if (buf)
		buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* A generated header: objtree's copy, else srctree's (as the walk). */
static char *kh_facts_slurp_gen(const struct kh_manifest_origin *o,
				const char *rel)
{
	char *s = kh_facts_slurp_small(o->objtree, rel);

	return s ? s : kh_facts_slurp_small(o->srctree, rel);
}

/* "NAME = value" among the Makefile's first lines, as Make reads it
 * (spaces around '=' and at the end dropped); "" when absent. */
static void kh_facts_make_var(const char *mk, const char *name,
			      char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *line = mk;

	out[0] = '\0';
	for (int i = 0; line && *line && i < KH_FACTS_MAKEFILE_LINES; i++) {
		const char *end = strchr(line, '\n');
		const char *p = line + nlen;
		size_t len;

		if (!end)
			end = line + strlen(line);
		if (!strncmp(line, name, nlen) &&
		    (*p == ' ' || *p == '\t' || *p == '=')) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=') {
				p++;
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				len = (size_t)(end - p);
				while (len && isspace((unsigned char)p[len - 1]))
					len--;
				snprintf(out, size, "%.*s", (int)len, p);
				return;
			}
		}
		line = *end ? end + 1 : NULL;
	}
}

/* `make kernelversion`: VERSION.PATCHLEVEL.SUBLEVEL EXTRAVERSION. */
static void kh_facts_kernelversion(const char *mk, char *out, size_t size)
{
	char v[32], p[32], s[32], x[64];

	kh_facts_make_var(mk, "VERSION", v, sizeof(v));
	kh_facts_make_var(mk, "PATCHLEVEL", p, sizeof(p));
	kh_facts_make_var(mk, "SUBLEVEL", s, sizeof(s));
	kh_facts_make_var(mk, "EXTRAVERSION", x, sizeof(x));
	out[0] = '\0';
	if (!v[0])
		return;
	snprintf(out, size, "%s%s%s%s%s%s", v, p[0] ? "." : "", p,
		 p[0] && s[0] ? "." : "", p[0] ? s : "", x);
}

/* The value after "#define NAME" in a header, quotes removed. */
static void kh_facts_define(const char *h, const char *name, char *out,
			    size_t size)
{
	size_t nlen = strlen(name);
	const char *p = h;

	out[0] = '\0';
	while (p && (p = strstr(p, "#define")) != NULL) {
		const char *q = p + 7, *end;

		p = q;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, nlen) || (q[nlen] != ' ' &&
					       q[nlen] != '\t'))
			continue;
		q += nlen;
		while (*q == ' ' || *q == '\t')
			q++;
		end = q;
		while (*end && *end != '\n')
			end++;
		while (end > q && isspace((unsigned char)end[-1]))
			end--;
		if (end - q >= 2 && *q == '"' && end[-1] == '"') {
			q++;
			end--;
		}
		snprintf(out, size, "%.*s", (int)(end - q), q);
		return;
	}
}

static int kh_facts_tree(struct kh_manifest *m,
			 const struct kh_manifest_origin *o,
			 struct kh_error *err)
{
	char *mk = kh_facts_slurp_small(o->srctree, "Makefile");
	char *uts = kh_facts_slurp_gen(o, "include/generated/utsrelease.h");
	char *ver = kh_facts_slurp_gen(o,
			"include/generated/uapi/linux/version.h");
	char val[256], buf[320];
	int ret;

	kh_facts_kernelversion(mk ? mk : "", val, sizeof(val));
	ret = kh_manifest_set_field(m, "kernel-version", val[0] ? val :
			"unknown (no VERSION in the srctree's Makefile)", err);
	kh_facts_define(uts ? uts : "", "UTS_RELEASE", val, sizeof(val));
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-release", val[0] ? val :
			"unknown (no include/generated/utsrelease.h)", err);
	kh_facts_define(ver ? ver : "", "LINUX_VERSION_CODE", val,
			   sizeof(val));
	if (val[0]) {
		char *end;
		unsigned long code = strtoul(val, &end, 0);

		/* KERNEL_VERSION(a, b, c): a << 16 | b << 8 | c. */
		if (*end == '\0')
			snprintf(buf, sizeof(buf), "%s (%lu.%lu.%lu)", val,
				 code >> 16, (code >> 8) & 255, code & 255);
		else
			snprintf(buf, sizeof(buf), "%s", val);
	}
	if (ret == 0)
		ret = kh_manifest_set_field(m, "linux-version-code", val[0] ?
			buf : "unknown (no include/generated/uapi/linux/"
			"version.h)", err);
	free(mk);
	free(uts);
	free(ver);
	return ret;
}

/* gen's options, under readable names; anything new is recorded as
 * "option" so that a manifest never silently omits a knob. */
static int kh_facts_options(struct kh_manifest *m,
			    const struct kh_manifest_origin *o,
			    struct kh_error *err)
{
	const char *arch = "unknown", *strip = "unknown";
	const char *format = NULL, *xz = NULL;
	const char *seen_filter, *seen_format;
	char mtime[96] = "unknown", buf[512];
	int ret;

	for (size_t i = 0; i < o->noptions; i++) {
		const char *kv = o->options[i];

		if (!strncmp(kv, "mtime=", 6)) {
			char when[64];

			kh_time_format(strtoll(kv + 6, NULL, 10), when,
				       sizeof(when));
			snprintf(mtime, sizeof(mtime), "@%s (%s)", kv + 6,
				 when);
		} else if (!strncmp(kv, "arch=", 5)) {
			arch = kv + 5;
		} else if (!strncmp(kv, "strip=", 6)) {
			strip = kv + 6;
		} else if (!strncmp(kv, "format=", 7)) {
			format = kv + 7;
		} else if (!strncmp(kv, "xz=", 3)) {
			xz = kv + 3;
		}
	}
	ret = kh_manifest_set_field(m, "srcarch", arch, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "mtime", mtime, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "strip", strip, err);
	kh_manifest_observed(m, &seen_filter, &seen_format);
	snprintf(buf, sizeof(buf), "%s", format ? format : seen_format ?
		 seen_format : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "format", buf, err);
	if (xz)
		snprintf(buf, sizeof(buf), "xz %s", xz);
	else
		snprintf(buf, sizeof(buf), "%s", seen_filter ? seen_filter
			 : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "compression", buf, err);
	for (size_t i = 0; ret == 0 && i < o->noptions; i++) {
		const char *kv = o->options[i];

		/* stub-* describe the .S, not the archive. */
		if (!strncmp(kv, "mtime=", 6) || !strncmp(kv, "arch=", 5) ||
		    !strncmp(kv, "strip=", 6) || !strncmp(kv, "format=", 7) ||
		    !strncmp(kv, "xz=", 3) || !strncmp(kv, "stub-", 5))
			continue;
		ret = kh_manifest_set_field(m, "option", kv, err);
	}
	return ret;
}

int kh_facts_describe(struct kh_manifest *m,
		      const struct kh_manifest_origin *o,
		      struct kh_error *err)
{
	static const char unknown[] = "unknown (read from an existing archive)";
	const char *filter, *format;
	char buf[256];
	int ret;

	ret = kh_manifest_set_field(m, "tool", "kheaders " KH_VERSION, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "source", o && o->srctree ?
			"kernel tree (kheaders gen)" :
			"archive (kheaders manifest; how it was built is "
			"unknown)", err);
	if (ret == 0 && o && o->srctree) {
		ret = kh_facts_tree(m, o, err);
		return ret ? ret : kh_facts_options(m, o, err);
	}
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-version", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-release", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "linux-version-code", unknown,
					    err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "srcarch", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "mtime", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "strip", unknown, err);
	kh_manifest_observed(m, &filter, &format);
	snprintf(buf, sizeof(buf), "%s (as read)",
		 format ? format : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "format", buf, err);
	snprintf(buf, sizeof(buf), "%s (as read)",
		 filter ? filter : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "compression", buf, err);
	return ret;
}

/* Facts that follow from gen's options, which the state covers. */
static int kh_facts_from_options(const char *key)
{
	static const char *const keys[] = {
		"srcarch", "mtime", "strip", "format", "compression", "option",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

int kh_facts_fresh(const char *path,
		   const struct kh_manifest_origin *o, int *fresh,
		   struct kh_error *err)
{
	struct kh_manifest *want = NULL;
	char *line = NULL;
	size_t cap = 0, same = 0, n = 0;
	FILE *fp;
	int ret;

	*fresh = 0;
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	ret = kh_manifest_new(&want, err);
	if (ret == 0)
		ret = kh_facts_describe(want, o, err);
	for (size_t i = 0; ret == 0 && i < kh_manifest_nfields(want); i++) {
		const char *k, *v;

		kh_manifest_field_at(want, i, &k, &v);
		n += !kh_facts_from_options(k);
	}
	while (ret == 0 && getline(&line, &cap, fp) > 0 && line[0] == '#') {
		char *colon = strstr(line, ": ");
		size_t len = strlen(line);

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!colon || line[1] != ' ')
			continue;
		*colon = '\0';
		if (kh_facts_from_options(line + 2))
			continue;
		for (size_t i = 0; i < kh_manifest_nfields(want); i++) {
			const char *k, *v;

			kh_manifest_field_at(want, i, &k, &v);
			same += !strcmp(k, line + 2) && !strcmp(v, colon + 2);
		}
	}
	/* The writer puts each fact once: n matches mean all match. */
	*fresh = ret == 0 && same == n;
	free(line);
	fclose(fp);
	kh_manifest_free(want);
	return ret;
}
