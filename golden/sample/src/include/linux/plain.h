/* SPDX-License-Identifier: GPL-2.0 */
/*
 * plain.h: an ordinary header with a block comment,
 * a doc comment and trailing comments.
 */
#ifndef _LINUX_PLAIN_H
#define _LINUX_PLAIN_H

/**
 * struct plain - a documented structure
 * @a: first member
 */
struct plain {
	int a;		/* trailing comment */
	long b;		// C++ comments are not touched by upstream
};

#define PLAIN_MAX 16 /* multi
		      * line trailing */

#endif /* _LINUX_PLAIN_H */
