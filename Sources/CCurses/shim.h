/* CCurses: ncursesw for Swift. Wide-character functions need NCURSES_WIDECHAR before the include (a
 * Package.swift define does not reach what Swift imports); macros Swift cannot import get nt_* wrappers. */
#ifndef NETTOP_CCURSES_SHIM_H
#define NETTOP_CCURSES_SHIM_H

#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <langinfo.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/select.h>
#include <ncursesw/curses.h>

static inline int nt_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int nt_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline attr_t nt_a_bold(void) { return A_BOLD; }
static inline attr_t nt_a_dim(void) { return A_DIM; }
static inline attr_t nt_a_reverse(void) { return A_REVERSE; }
static inline attr_t nt_a_underline(void) { return A_UNDERLINE; }
static inline attr_t nt_color_pair(short n) { return COLOR_PAIR(n); }
static inline int nt_key_f(int n) { return KEY_F(n); }

/* `stdscr` and `COLORS` are C globals, which Swift 6 rejects as shared mutable state. */
static inline WINDOW *nt_stdscr(void) { return stdscr; }
static inline int nt_colors(void) { return COLORS; }

/* wattr_set is a macro in curses.h (over the function of the same name); the wrapper picks one meaning
 * and drops the reserved `opts` argument. */
static inline int nt_set_style(WINDOW *w, attr_t attributes, short pair) {
    return wattr_set(w, attributes, pair, NULL);
}

/* tigetstr() reports "not a string capability" as (char *)-1, which Swift cannot test for; NULL here. */
static inline const char *nt_tigetstr(const char *name) {
    char *value = tigetstr(name);
    return (value == NULL || value == (char *)-1) ? NULL : value;
}

/* True when the locale setlocale() chose encodes text as UTF-8 (CODESET is an enum Swift sees as a
 * different type on each libc; this keeps the question in C). */
static inline int nt_locale_is_utf8(void) {
    const char *codeset = nl_langinfo(CODESET);
    return codeset != NULL && strcmp(codeset, "UTF-8") == 0;
}

/* Waits until `fd` is readable, `timeout_ms` passes, or a signal arrives, with `mask` as the signal mask
 * for the wait only (pselect swaps it atomically, so a signal blocked outside the wait cannot slip in
 * between an unblock and the wait). FD_SET is a macro, and ppoll() is hidden behind _GNU_SOURCE in the
 * Glibc module Swift sees; pselect is plain POSIX. Returns pselect's result (-1 with EINTR on a signal). */
static inline int nt_wait_readable(int fd, int timeout_ms, const sigset_t *mask) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    struct timespec limit;
    limit.tv_sec = timeout_ms / 1000;
    limit.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    return pselect(fd + 1, &readable, NULL, NULL, &limit, mask);
}

#endif
