/* kh_buf: a growable text buffer, the one every text writer shares.
 *
 * Appends never fail on their own: an allocation failure sets a sticky
 * `oom` flag and later appends do nothing, so a writer appends freely
 * and checks once at the end (kh_buf_failed). The text is always
 * NUL-terminated once anything was appended; len does not count the
 * NUL. kh_buf_printf formats into a small stack buffer and falls back
 * to the heap for longer results, so no length of argument (a path of
 * any size) makes it fail.
 */
#ifndef KH_BUF_H
#define KH_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct kh_buf {
	char *p;        /* NULL until the first append */
	size_t len, cap;
	int oom;        /* an allocation failed; the text is incomplete */
};

#define KH_BUF_INIT { .p = NULL }

/* Room for n more bytes (and the NUL) without another allocation.
 * 0, or -1 with oom set. */
int kh_buf_reserve(struct kh_buf *b, size_t n);

/* Append n bytes of s / the string s / one character. */
void kh_buf_add(struct kh_buf *b, const void *s, size_t n);
void kh_buf_str(struct kh_buf *b, const char *s);
void kh_buf_char(struct kh_buf *b, char c);

/* Append printf-formatted text, of any length. */
void kh_buf_printf(struct kh_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kh_buf_vprintf(struct kh_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Nonzero when an append was lost to an allocation failure. */
int kh_buf_failed(const struct kh_buf *b);

/* Hand the text to the caller (malloc'ed, "" for an empty buffer, NULL
 * on failure) and leave b empty. */
char *kh_buf_take(struct kh_buf *b, size_t *len);

/* Free the text and reset b to KH_BUF_INIT. */
void kh_buf_free(struct kh_buf *b);

/* The one way an array grows: v (*cap elements of size bytes) with
 * room for need, that is v itself, or v grown to twice its capacity (to
 * first, the first time; to need, if that is more). NULL when out of
 * memory (v and *cap are then unchanged). */
void *kh_buf_grow_array(void *v, size_t *cap, size_t need, size_t size,
			size_t first);

#endif
