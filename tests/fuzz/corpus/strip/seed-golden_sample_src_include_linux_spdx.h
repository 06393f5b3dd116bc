/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* This comment goes. */
/*
 * Copyright notice that mentions SPDX stays, because its body has SPDX.
 */
/* not here */ int x; /* a comment that quotes SPDX-License mid-line */
/* two */ /* comments */ int y;
/**/ int z; /***/ int w; /* ** / */
/* nested /* opener */ int v; */
