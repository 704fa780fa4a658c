/* CCurses: ncursesw for Swift. Wide-character functions need NCURSES_WIDECHAR before the include (a
 * Package.swift define does not reach what Swift imports); macros Swift cannot import get nt_* wrappers. */
#ifndef NETTOP_CCURSES_SHIM_H
#define NETTOP_CCURSES_SHIM_H

#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <ncursesw/curses.h>

static inline int nt_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int nt_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline attr_t nt_a_bold(void) { return A_BOLD; }
static inline attr_t nt_a_dim(void) { return A_DIM; }
static inline attr_t nt_a_reverse(void) { return A_REVERSE; }
static inline attr_t nt_a_underline(void) { return A_UNDERLINE; }
static inline attr_t nt_color_pair(short n) { return COLOR_PAIR(n); }
static inline int nt_key_f(int n) { return KEY_F(n); }

#endif
