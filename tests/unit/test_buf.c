/* Unit tests for lib/kh_buf: appends, long printf results, take, and
 * the growth of arrays. */
#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"
#include "kh_test.h"

static void test_buf_append(void)
{
	struct kh_buf b = KH_BUF_INIT;
	size_t len = 99;
	char *t;

	kh_buf_str(&b, "ab");
	kh_buf_char(&b, 'c');
	kh_buf_add(&b, "dxx", 1);
	kh_buf_printf(&b, "-%d-", 42);
	KH_CHECK(!kh_buf_failed(&b));
	KH_CHECK_STR(b.p, "abcd-42-");
	t = kh_buf_take(&b, &len);
	KH_CHECK_STR(t, "abcd-42-");
	KH_CHECK(len == 8);
	KH_CHECK(b.p == NULL && b.len == 0);
	free(t);
	/* An empty buffer hands out "", not NULL. */
	t = kh_buf_take(&b, &len);
	KH_CHECK(t && !*t && len == 0);
	free(t);
}

/* D1: a formatted result far over any stack buffer (a quoted 9 KiB
 * name in diff -u's header) is appended whole. */
static void test_buf_long_printf(void)
{
	struct kh_buf b = KH_BUF_INIT;
	size_t n = 100000;
	char *name = malloc(n + 1);

	KH_CHECK(name != NULL);
	if (!name)
		return;
	memset(name, 'x', n);
	name[n] = '\0';
	kh_buf_str(&b, "<");
	kh_buf_printf(&b, "--- %s\n+++ %s\n", name, name);
	KH_CHECK(!kh_buf_failed(&b));
	KH_CHECK(b.len == 1 + 2 * (n + 5));
	KH_CHECK(b.p && !strncmp(b.p, "<--- xxx", 8));
	KH_CHECK(b.p && b.p[b.len - 1] == '\n' && b.p[b.len] == '\0');
	KH_CHECK(kh_buf_reserve(&b, 1 << 20) == 0 && b.cap > b.len + (1 << 20));
	kh_buf_free(&b);
	KH_CHECK(b.p == NULL && b.cap == 0);
	free(name);
}

/* An impossible reservation fails, sticks, and take returns NULL. */
static void test_buf_oom(void)
{
	struct kh_buf b = KH_BUF_INIT;
	size_t len = 5;

	kh_buf_str(&b, "x");
	KH_CHECK(kh_buf_reserve(&b, (size_t)-1) < 0);
	KH_CHECK(kh_buf_failed(&b));
	kh_buf_str(&b, "y");
	KH_CHECK(kh_buf_take(&b, &len) == NULL && len == 0);
	KH_CHECK(!kh_buf_failed(&b));
}

/* kh_buf_grow_array: first, then doubling, or need when more; an
 * impossible size fails and leaves the array as it was. */
static void test_buf_grow_array(void)
{
	size_t cap = 0;
	int *v = NULL, *w;

	v = kh_buf_grow_array(v, &cap, 1, sizeof(*v), 8);
	KH_CHECK(v && cap == 8);
	v[7] = 7;
	w = kh_buf_grow_array(v, &cap, 8, sizeof(*v), 8);
	KH_CHECK(w == v && cap == 8);
	v = kh_buf_grow_array(v, &cap, 9, sizeof(*v), 8);
	KH_CHECK(v && cap == 16 && v[7] == 7);
	v = kh_buf_grow_array(v, &cap, 100, sizeof(*v), 8);
	KH_CHECK(v && cap == 100 && v[7] == 7);
	KH_CHECK(kh_buf_grow_array(v, &cap, (size_t)-1 / 2, sizeof(*v), 8) ==
		 NULL);
	KH_CHECK(cap == 100 && v[7] == 7);
	free(v);
}

KH_TEST_MAIN(test_buf_append, test_buf_long_printf, test_buf_oom,
	     test_buf_grow_array)
