// SPDX-License-Identifier: GPL-2.0
/* Offset guessing, kernel side: for kernels without BTF, where struct sock's layout is unknown. User space
 * opens a loopback TCP connection with known addresses, ports, namespace and cookie, arms `status` with
 * where to look, and shuts the connection down; this program reads a window of that connection's struct
 * sock (or of the struct a pointer in it points to) into `status`. The state machine in user space
 * (TracerCore/OffsetGuess) compares, moves on, and works through one field at a time.
 *
 * No CO-RE here: this must load where there is no BTF. Two entry points, one loaded:
 *  - tracepoint sock:inet_sock_set_state (ESTABLISHED -> FIN_WAIT1 in the shutdown() call), whose
 *    record carries the sock pointer and the ports to recognise the connection by;
 *  - kprobe tcp_shutdown, for kernels whose tracefs lacks that tracepoint but which have kprobes.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "nettop_constants.h"
#include "offset_guess.h"

/* The request and its answer. Key 0. Written by user space, filled here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_guess_status);
} status SEC(".maps");

/* The status if this event is the armed connection's, else NULL. The guessing thread is known by its
 * name, which user space made unique: its thread id would differ in a pid namespace (a container). */
static __always_inline struct nt_guess_status *armed(void)
{
	__u32 zero = 0;
	struct nt_guess_status *st = bpf_map_lookup_elem(&status, &zero);
	__u64 comm[2] = {};

	if (!st || st->state != NT_GUESS_ARMED)
		return NULL;
	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] != *(__u64 *)st->comm || comm[1] != *(__u64 *)(st->comm + 8))
		return NULL;
	return st;
}

static __always_inline void read_window(struct nt_guess_status *st, const void *sk)
{
	__u64 base = (__u64)sk;
	long err = 0;

	if (st->offset > 4096 || st->inner > 8192) {
		err = -22;
		goto out;
	}
	if (st->deref) {
		err = bpf_probe_read_kernel(&base, sizeof(base), (void *)sk + st->offset);
		if (err)
			goto out;
		base += st->inner;
	} else {
		base += st->offset;
	}
	err = bpf_probe_read_kernel(st->window, sizeof(st->window), (void *)base);
out:
	st->sk = (__u64)sk;
	st->err = err;
	st->state = NT_GUESS_DONE;
}

struct tp_inet_sock_set_state {
	__u64 __common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
};

SEC("tracepoint/sock/inet_sock_set_state")
int guess_inet_sock_set_state(struct tp_inet_sock_set_state *ctx)
{
	struct nt_guess_status *st;

	if (ctx->oldstate != TCP_ESTABLISHED || ctx->newstate != TCP_FIN_WAIT1)
		return 0;
	st = armed();
	/* A softirq on the guessing thread's CPU may carry another socket's event: match the ports too. */
	if (!st || ctx->sport != st->sport || ctx->dport != st->dport)
		return 0;
	read_window(st, ctx->skaddr);
	return 0;
}

/* tcp_shutdown(sk, how) runs only in the process that called shutdown(). */
SEC("kprobe/tcp_shutdown")
int BPF_KPROBE(guess_tcp_shutdown, void *sk)
{
	struct nt_guess_status *st = armed();

	if (st)
		read_window(st, sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
