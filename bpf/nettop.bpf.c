// SPDX-License-Identifier: GPL-2.0
/* nettop's kernel side for kernels with BTF (CO-RE): per-socket-end TCP and UDP counters in a hash map
 * that user space polls, and a ring buffer for what must not be missed between two polls (closes,
 * listeners, released UDP sockets). The workers and the entry points shared with the no-BTF object are in
 * nettop_common.bpf.h and nettop_entries.bpf.h; this file reads sockets with CO-RE and adds the entry
 * points that need BTF.
 *
 * Backends (TracerCore/Kernel/Backend.swift chooses one and turns the other programs off before load):
 *  - tracepoint: tp_btf on sock:sock_send_length / sock_recv_length / inet_sock_set_state and
 *    tcp:tcp_destroy_sock, the cgroup sendmsg/recvmsg hooks for UDP peers (without cgroup v2: the socket
 *    syscalls), tcp:tcp_retransmit_skb, cgroup/sock_release. No accept hook: an accepted connection
 *    that has moved no bytes is shown with its listener's owner (user space, PortMapping).
 *  - fentry: fexit on tcp_sendmsg (and tcp_sendpage before 6.5), tcp_recvmsg, udp(v6)_sendmsg/recvmsg, tcp_v4/v6_connect,
 *    inet_csk_accept and fentry on tcp_close; tp_btf inet_sock_set_state and tcp_destroy_sock;
 *    tcp:tcp_retransmit_skb.
 *  - kprobe: the same functions with kprobes and kretprobes; classic inet_sock_set_state; the tcp
 *    tracepoints; cgroup/sock_create to give every new socket a cookie the kprobes can read.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "vmlinux_subset.h"
#include "nettop.h"
#include "nettop_common.bpf.h"

/* ---- reading a socket: CO-RE ---- */

static __always_inline __u16 sk_family(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

static __always_inline __u16 sk_sport(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

static __always_inline void sk_tuple(struct sock *sk, __u16 family, struct nt_conn_info *v)
{
	v->sport = sk_sport(sk);
	v->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(v->saddr, &s, 4);
		__builtin_memcpy(v->daddr, &d, 4);
	} else {
		BPF_CORE_READ_INTO(&v->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&v->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline __u32 sk_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline __u8 sk_state(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state);
}

/* A bitfield before Linux 6.x, a byte after: the PROBED bitfield read handles both. */
static __always_inline __u8 sk_userlocks(struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks);
}

static __always_inline __u64 sk_cookie(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline bool sk_dead(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DEAD);
}

/* Segments in a (GSO) skb: tcp_skb_cb lives in skb->cb. */
static __always_inline __u16 skb_segs(void *skb)
{
	__u16 segs = 1;

	bpf_probe_read_kernel(&segs, sizeof(segs),
			      skb + bpf_core_field_offset(struct sk_buff, cb) +
				      bpf_core_field_offset(struct tcp_skb_cb, tcp_gso_segs));
	return segs;
}

#include "nettop_entries.bpf.h"

/* ---- tracepoint backend: tp_btf ---- */

/* A tp_btf argument is a typed kernel pointer: its fields are read with plain (CO-RE relocated) loads,
 * which the verifier makes fault-safe, rather than a helper call each as BPF_CORE_READ does. These run
 * for every send, receive and TCP state change on the host. */

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp_sock_send_length, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, bpf_get_socket_cookie(sk), sk->__sk_common.skc_family, sk->sk_protocol, ret, flags,
			 true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp_sock_recv_length, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, bpf_get_socket_cookie(sk), sk->__sk_common.skc_family, sk->sk_protocol, ret, flags,
			 false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	tcp_state_change(sk, bpf_get_socket_cookie(sk), sk->__sk_common.skc_family, oldstate, newstate);
	return 0;
}

/* Every full TCP socket passes here when the kernel frees it (the raw tracepoint: no record is built for
 * it, unlike the classic tcp:tcp_destroy_sock that the kprobe backend and the no-BTF object use). */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tp_tcp_destroy_sock, struct sock *sk)
{
	tcp_destroyed(sk);
	return 0;
}

/* ---- fentry backend ---- */

/* recvmsg's flags: the 4th of 5 arguments since Linux 5.19, the 5th of 6 before. */
static __always_inline __u64 fx_recv_flags(void *ctx)
{
	__u64 flags = 0;
	bpf_get_func_arg(ctx, bpf_get_func_arg_cnt(ctx) == 5 ? 3 : 4, &flags);
	return flags;
}

static __always_inline long fx_ret(void *ctx)
{
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	return (long)(int)ret;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fx_tcp_sendmsg, struct sock *sk)
{
	long ret = fx_ret(ctx);
	if (ret > 0)
		tcp_io(sk, bpf_get_socket_cookie(sk), sk_family(sk), ret, 0);
	return 0;
}

/* sendfile() and splice() before Linux 6.5; loaded only where the kernel has the function. */
SEC("fexit/tcp_sendpage")
int BPF_PROG(fx_tcp_sendpage, struct sock *sk)
{
	long ret = fx_ret(ctx);
	if (ret > 0)
		tcp_io(sk, bpf_get_socket_cookie(sk), sk_family(sk), ret, 0);
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg, struct sock *sk)
{
	long ret = fx_ret(ctx);
	if (ret > 0 && !(fx_recv_flags(ctx) & MSG_PEEK))
		tcp_io(sk, bpf_get_socket_cookie(sk), sk_family(sk), 0, ret);
	return 0;
}

/* udpv6_sendmsg hands v4-mapped destinations to udp_sendmsg with the same socket: counted by the v6 one. */
static __always_inline int fx_udp(void *ctx, struct sock *sk, void *msg, __u16 family, bool send)
{
	if (sk_family(sk) != family || (!send && (fx_recv_flags(ctx) & MSG_PEEK)))
		return 0;
	udp_msg_io(sk, bpf_get_socket_cookie(sk), family, msg, fx_ret(ctx), send);
	return 0;
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(fx_udp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return fx_udp(ctx, sk, msg, AF_INET, true);
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(fx_udpv6_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return fx_udp(ctx, sk, msg, AF_INET6, true);
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(fx_udp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	return fx_udp(ctx, sk, msg, AF_INET, false);
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(fx_udpv6_recvmsg, struct sock *sk, struct msghdr *msg)
{
	return fx_udp(ctx, sk, msg, AF_INET6, false);
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(fx_tcp_v4_connect, struct sock *sk)
{
	if (sk_family(sk) == AF_INET) /* else tcp_v6_connect's v4-mapped path: handled at its exit */
		tcp_connected(sk, bpf_get_socket_cookie(sk), AF_INET, fx_ret(ctx));
	return 0;
}

SEC("fexit/tcp_v6_connect")
int BPF_PROG(fx_tcp_v6_connect, struct sock *sk)
{
	tcp_connected(sk, bpf_get_socket_cookie(sk), AF_INET6, fx_ret(ctx));
	return 0;
}

SEC("fexit/inet_csk_accept")
int BPF_PROG(fx_inet_csk_accept, struct sock *sk)
{
	__u64 child = 0;
	bpf_get_func_ret(ctx, &child);
	tcp_accepted((struct sock *)child);
	return 0;
}

SEC("fentry/tcp_close")
int BPF_PROG(fe_tcp_close, struct sock *sk)
{
	tcp_released(sk, bpf_get_socket_cookie(sk));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
