/* kh_buf: a growable text buffer (see kh_buf.h). */
#include "lib/kh_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kh_buf_reserve(struct kh_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (n > SIZE_MAX - b->len - 1)
		goto fail;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = 1;
	return -1;
}

void kh_buf_add(struct kh_buf *b, const void *s, size_t n)
{
	if (kh_buf_reserve(b, n) < 0)
		return;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void kh_buf_str(struct kh_buf *b, const char *s)
{
	kh_buf_add(b, s, strlen(s));
}

void kh_buf_char(struct kh_buf *b, char c)
{
	kh_buf_add(b, &c, 1);
}

void kh_buf_vprintf(struct kh_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	int n;

	if (b->oom)
		return;
	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		b->oom = 1;
	} else if ((size_t)n < sizeof(small)) {
		kh_buf_add(b, small, (size_t)n);
	} else if (kh_buf_reserve(b, (size_t)n) == 0) {
		/* Straight into the buffer: the room is there. */
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

void kh_buf_printf(struct kh_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

int kh_buf_failed(const struct kh_buf *b)
{
	return b->oom;
}

char *kh_buf_take(struct kh_buf *b, size_t *len)
{
	char *p;

	if (!b->oom && !b->p)
		kh_buf_reserve(b, 0);
	if (b->oom) {
		kh_buf_free(b);
		if (len)
			*len = 0;
		return NULL;
	}
	b->p[b->len] = '\0';
	p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void kh_buf_free(struct kh_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void *kh_buf_grow_array(void *v, size_t *cap, size_t need, size_t size,
			size_t first)
{
	size_t n;

	if (need <= *cap)
		return v;
	n = !*cap ? first : *cap > SIZE_MAX / 2 ? need : *cap * 2;
	if (n < need)
		n = need;
	if (size && n > SIZE_MAX / size)
		return NULL;
	v = realloc(v, n * size);
	if (v)
		*cap = n;
	return v;
}
