/* The status shared by offset_guess.bpf.c and the offset guesser in user space
 * (TracerCore/Kernel/OffsetGuesser.swift, state machine in TracerCore/OffsetGuess). Plain fixed-width
 * types and explicit padding: Swift reads it through the CBPF module. */
#ifndef NETTOP_OFFSET_GUESS_H
#define NETTOP_OFFSET_GUESS_H

#ifndef __VMLINUX_SUBSET_H
#include <linux/types.h>
#endif

/* Bytes read per connection: every candidate offset of one field inside [offset, offset + window). */
#define NT_GUESS_WINDOW 256

enum nt_guess_state {
	NT_GUESS_IDLE = 0,
	NT_GUESS_ARMED = 1,   /* user space set the request and is about to shut the connection down */
	NT_GUESS_DONE = 2,    /* the program read the window from the connection's struct sock */
};

/* The one value of the `status` array map. User space writes the request and ARMED; the program, on
 * the guessing thread's connection, writes sk, err, window and DONE. */
struct nt_guess_status {
	char comm[16];        /* name of the thread that owns the connection (its pid may be namespaced) */
	__u64 sk;             /* the struct sock the window was read from */
	__u32 state;          /* enum nt_guess_state */
	__u32 offset;         /* where to read in struct sock (with deref: where the pointer is) */
	__u32 inner;          /* with deref: where to read in the struct the pointer points to */
	__u16 sport;          /* the connection's local and remote ports (host order), to tell its event */
	__u16 dport;
	__u8 deref;
	__u8 _pad[3];
	__s32 err;            /* bpf_probe_read_kernel's result: 0, or -errno */
	__u8 window[NT_GUESS_WINDOW];
};

#endif
