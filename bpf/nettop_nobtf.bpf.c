// SPDX-License-Identifier: GPL-2.0
/* nettop's kernel side for kernels without BTF (or `--no-btf`): the same maps, ring buffer and workers as
 * nettop.bpf.c, without CO-RE. Sockets are read with bpf_probe_read_kernel at the offsets user space
 * guessed (TracerCore/OffsetGuess) and wrote into `facts.offsets` before load; nothing here needs the
 * kernel's BTF, so libbpf loads it on any kernel with the ring buffer (5.8+).
 *
 * Backends (TracerCore/Kernel/Backend.swift chooses one and turns the other programs off before load):
 *  - tracepoint: classic sock:sock_send_length / sock_recv_length (Linux 6.3+) and inet_sock_set_state,
 *    the cgroup sendmsg/recvmsg hooks for UDP peers (without cgroup v2: the socket syscalls),
 *    tcp:tcp_retransmit_skb, tcp:tcp_destroy_sock, the cgroup hooks.
 *  - kprobe: kprobes and kretprobes on tcp_sendmsg (and tcp_sendpage before 6.5), tcp_recvmsg, udp(v6)_sendmsg/recvmsg,
 *    tcp_v4/v6_connect, inet_csk_accept, tcp_close; classic inet_sock_set_state; the tcp tracepoints;
 *    the cgroup hooks.
 * No hook here can call bpf_get_socket_cookie on a sock: keys are read cookies or sock addresses (see
 * nettop_common.bpf.h).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "nettop.h"
#include "nettop_constants.h"
#include "nettop_common.bpf.h"

/* ---- reading a socket: at the guessed offsets ---- */

#define READ_AT(sk, off, dst) bpf_probe_read_kernel(dst, sizeof(*(dst)), (void *)(sk) + (off))

static __always_inline __u16 sk_family(struct sock *sk)
{
	__u16 v = 0;
	READ_AT(sk, facts.offsets.skc_family, &v);
	return v;
}

static __always_inline __u16 sk_sport(struct sock *sk)
{
	__u16 v = 0;
	READ_AT(sk, facts.offsets.skc_num, &v);
	return v;
}

static __always_inline void sk_tuple(struct sock *sk, __u16 family, struct nt_conn_info *v)
{
	__u16 dport = 0;

	v->sport = sk_sport(sk);
	READ_AT(sk, facts.offsets.skc_dport, &dport);
	v->dport = bpf_ntohs(dport);
	if (family == AF_INET) {
		bpf_probe_read_kernel(v->saddr, 4, (void *)sk + facts.offsets.skc_rcv_saddr);
		bpf_probe_read_kernel(v->daddr, 4, (void *)sk + facts.offsets.skc_daddr);
	} else if (facts.offsets.has_v6) {
		bpf_probe_read_kernel(v->saddr, 16, (void *)sk + facts.offsets.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(v->daddr, 16, (void *)sk + facts.offsets.skc_v6_daddr);
	}
}

static __always_inline __u32 sk_netns(struct sock *sk)
{
	__u64 net = 0;
	__u32 inum = 0;

	if (READ_AT(sk, facts.offsets.skc_net, &net) || !net)
		return 0;
	READ_AT(net, facts.offsets.net_ns_inum, &inum);
	return inum;
}

static __always_inline __u8 sk_state(struct sock *sk)
{
	return 0; /* not guessed: tcp_state comes from inet_sock_set_state's own record */
}

static __always_inline __u8 sk_userlocks(struct sock *sk)
{
	__u8 v = 0;
	READ_AT(sk, facts.offsets.sk_userlocks, &v);
	return facts.offsets.sk_userlocks_shift ? v >> 4 : v & 0x0f;
}

static __always_inline __u64 sk_cookie(struct sock *sk)
{
	__u64 v = 0;
	READ_AT(sk, facts.offsets.skc_cookie, &v);
	return v;
}

static __always_inline bool sk_dead(struct sock *sk)
{
	return false; /* not guessed: tcp:tcp_destroy_sock finishes a released socket */
}

/* Retransmits are counted per event: the segment count lives in the skb's control block, not guessed. */
static __always_inline __u16 skb_segs(void *skb)
{
	return 1;
}

#include "nettop_entries.bpf.h"

/* ---- tracepoint backend: classic tracepoints ---- */

SEC("tracepoint/sock/sock_send_length")
int tpc_sock_send_length(struct tp_sock_length *ctx)
{
	struct sock *sk = ctx->sk;
	return handle_io(sk, sk_cookie(sk), ctx->family, ctx->protocol, ctx->ret, ctx->flags, true);
}

SEC("tracepoint/sock/sock_recv_length")
int tpc_sock_recv_length(struct tp_sock_length *ctx)
{
	struct sock *sk = ctx->sk;
	return handle_io(sk, sk_cookie(sk), ctx->family, ctx->protocol, ctx->ret, ctx->flags, false);
}

char LICENSE[] SEC("license") = "GPL";
