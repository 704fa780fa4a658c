/* Entry points both objects have: classic tracepoints, socket syscalls, cgroup hooks and kprobes. Thin:
 * each calls a worker of nettop_common.bpf.h. User space picks which of them load for its backend
 * (TracerCore/Kernel/Backend.swift) and turns the others off with bpf_program__set_autoload. */
#ifndef NETTOP_ENTRIES_BPF_H
#define NETTOP_ENTRIES_BPF_H

/* ---- classic tracepoint records (their tracefs format files; stable since the fields were added) ---- */

struct tp_inet_sock_set_state {
	__u64 __common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

struct tp_sock_length {        /* sock:sock_send_length, sock:sock_recv_length (Linux 6.3+) */
	__u64 __common;
	void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
};

struct tp_tcp_sk {             /* tcp:tcp_destroy_sock and others that start with the sock */
	__u64 __common;
	const void *skaddr;
};

/* tcp:tcp_retransmit_skb (class tcp_event_sk_skb before 6.12, when it became an event of its own and
 * gained `err`, at 76: since then it also fires for retransmits that failed). */
struct tp_tcp_retransmit_skb {
	__u64 __common;
	void *skbaddr;
	const void *skaddr;
	__u8 _fields[52];
	int err;
};

struct syscall_enter {
	__u64 __common;
	__s32 nr;
	__u32 __pad;
	__u64 args[6];
};

struct syscall_exit {
	__u64 __common;
	__s32 nr;
	__u32 __pad;
	__s64 ret;
};

/* ---- TCP state (kprobe backend, and the no-BTF tracepoint backend) ---- */

SEC("tracepoint/sock/inet_sock_set_state")
int tpc_inet_sock_set_state(struct tp_inet_sock_set_state *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	tcp_state_change(sk, sk_cookie(sk), ctx->family, ctx->oldstate, ctx->newstate);
	return 0;
}

/* Retransmitted segments. `err` is read only where the format file has it (facts.retransmit_err_off). */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit_skb(struct tp_tcp_retransmit_skb *ctx)
{
	if (facts.retransmit_err_off == __builtin_offsetof(struct tp_tcp_retransmit_skb, err) && ctx->err)
		return 0; /* not sent */
	tcp_retransmitted((struct sock *)ctx->skaddr, skb_segs(ctx->skbaddr));
	return 0;
}

/* Every full TCP socket passes here when the kernel frees it, after the application let go of it. */
SEC("tracepoint/tcp/tcp_destroy_sock")
int tpc_tcp_destroy_sock(struct tp_tcp_sk *ctx)
{
	tcp_destroyed((struct sock *)ctx->skaddr);
	return 0;
}

/* ---- cgroup hooks (attached to the cgroup v2 root, when there is one) ---- */

/* The application released a socket (close() of its last fd, or exit): no more I/O can come. */
SEC("cgroup/sock_release")
int cg_sock_release(struct bpf_sock *ctx)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;

	if (!wanted(ctx->family, ctx->protocol))
		return 1;
	key.cookie = bpf_get_socket_cookie(ctx);
	if (ctx->protocol == IPPROTO_UDP) {
		emit_simple(NT_EV_SOCK_RELEASE, key.cookie, NULL);
		return 1;
	}
	v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return 1;
	v->released = 1;
	mark_dirty(&key, v);
	if (ctx->state == TCP_CLOSE)
		finish_tcp(&key, v);
	return 1;
}

/* A socket was created: generating its cookie now gives the hooks that can only read it (kprobes,
 * classic tracepoints) a key that is never reused, and that the release above names too. */
SEC("cgroup/sock_create")
int cg_sock_create(struct bpf_sock *ctx)
{
	if (wanted(ctx->family, ctx->protocol))
		bpf_get_socket_cookie(ctx);
	return 1;
}

/* ---- cgroup sock_addr hooks: where a datagram's peer is (tracepoint backend, cgroup v2) ---- */

/* udp_sendmsg with a destination address, or udp_recvmsg that copies the sender's out: leaves the peer
 * for the sock_send_length / sock_recv_length that ends this call on this thread (take_peer). */
static __always_inline int stash_peer(struct bpf_sock_addr *ctx, bool v6)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct udp_peer *p = peer_slot(id);
	struct udp_peer spill = {};

	/* UDP-Lite shares these hooks; sock_send_length would not take its peer. */
	if (!p || ctx->protocol != IPPROTO_UDP || !wanted(ctx->family, IPPROTO_UDP))
		return 1;
	if (p->id != id) {
		__u64 held = __sync_val_compare_and_swap(&p->id, 0, id);
		if (held && held != id) {
			/* Another thread's datagram is in flight in this slot: this one goes to peer_spill. */
			peer_spill_used = 1;
			p = bpf_map_lookup_elem(&peer_spill, &id);
			if (!p)
				p = &spill;
		}
	}
	if (v6) {
		__u32 *a = (__u32 *)p->addr;
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		__u32 a = ctx->user_ip4;
		__builtin_memset(p->addr, 0, 16);
		__builtin_memcpy(p->addr, &a, 4);
	}
	p->port = bpf_ntohs((__u16)ctx->user_port);
	p->cookie = bpf_get_socket_cookie(ctx);
	if (p == &spill && bpf_map_update_elem(&peer_spill, &id, &spill, BPF_ANY))
		count(NT_CNT_CTX_FULL);
	return 1;
}

SEC("cgroup/sendmsg4")
int cg_udp4_sendmsg(struct bpf_sock_addr *ctx) { return stash_peer(ctx, false); }
SEC("cgroup/sendmsg6")
int cg_udp6_sendmsg(struct bpf_sock_addr *ctx) { return stash_peer(ctx, true); }
SEC("cgroup/recvmsg4")
int cg_udp4_recvmsg(struct bpf_sock_addr *ctx) { return stash_peer(ctx, false); }
SEC("cgroup/recvmsg6")
int cg_udp6_recvmsg(struct bpf_sock_addr *ctx) { return stash_peer(ctx, true); }

/* ---- socket syscalls: where a datagram's peer is (tracepoint backend without cgroup v2) ---- */

static __always_inline int enter(__u32 kind, __u64 uptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sys_ctx *c;
	__u32 zero = 0;

	/* sys_ctx is larger than the stack allows: copy a zeroed one from scratch space. */
	c = bpf_map_lookup_elem(&ctx_scratch, &zero);
	if (!c)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->uptr = uptr;
	if (bpf_map_update_elem(&sysctx, &id, c, BPF_ANY))
		count(NT_CNT_CTX_FULL);
	return 0;
}

static __always_inline int leave(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sys_ctx *c = bpf_map_lookup_elem(&sysctx, &id);

	if (!c)
		return 0;
	flush_pending_recv(c);
	bpf_map_delete_elem(&sysctx, &id);
	return 0;
}

/* sendto(fd, buf, len, flags, addr, addrlen), recvfrom(... addr, addrlen*) */
SEC("tracepoint/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct syscall_enter *ctx) { return enter(SYS_SENDTO, ctx->args[4]); }
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int sys_enter_recvfrom(struct syscall_enter *ctx) { return enter(SYS_RECVFROM, ctx->args[4]); }
/* sendmsg(fd, msg, flags), recvmsg(fd, msg, flags) */
SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct syscall_enter *ctx) { return enter(SYS_SENDMSG, ctx->args[1]); }
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int sys_enter_recvmsg(struct syscall_enter *ctx) { return enter(SYS_RECVMSG, ctx->args[1]); }
/* sendmmsg(fd, vec, vlen, flags), recvmmsg(fd, vec, vlen, flags, timeout) */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int sys_enter_sendmmsg(struct syscall_enter *ctx) { return enter(SYS_SENDMMSG, ctx->args[1]); }
SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int sys_enter_recvmmsg(struct syscall_enter *ctx) { return enter(SYS_RECVMMSG, ctx->args[1]); }

SEC("tracepoint/syscalls/sys_exit_sendto")
int sys_exit_sendto(struct syscall_exit *ctx) { return leave(); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int sys_exit_recvfrom(struct syscall_exit *ctx) { return leave(); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sys_exit_sendmsg(struct syscall_exit *ctx) { return leave(); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int sys_exit_recvmsg(struct syscall_exit *ctx) { return leave(); }
SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int sys_exit_sendmmsg(struct syscall_exit *ctx) { return leave(); }
SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int sys_exit_recvmmsg(struct syscall_exit *ctx) { return leave(); }

/* ---- kprobe backend: the kernel functions every TCP and UDP byte passes through ---- */

/* recvmsg's flags: the 4th argument since Linux 5.19, the 5th before (after `nonblock`). */
static __always_inline __u64 recv_flags(__u64 arg4, __u64 arg5)
{
	return facts.recvmsg_flags_arg5 ? arg5 : arg4;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_tcp_sendmsg, struct sock *sk)
{
	return stash_call(CALL_TCP_SENDMSG, sk, NULL);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(krp_tcp_sendmsg, int ret)
{
	struct call_args a;
	struct sock *sk;

	if (!take_call(CALL_TCP_SENDMSG, &a) || ret <= 0)
		return 0;
	sk = (struct sock *)a.sk;
	tcp_io(sk, sk_cookie(sk), sk_family(sk), ret, 0);
	return 0;
}

/* sendfile() and splice() into a TCP socket before Linux 6.5 (since, they go through tcp_sendmsg). Loaded
 * only where the kernel has the function (Backend.swift). */
SEC("kprobe/tcp_sendpage")
int BPF_KPROBE(kp_tcp_sendpage, struct sock *sk)
{
	return stash_call(CALL_TCP_SENDPAGE, sk, NULL);
}

SEC("kretprobe/tcp_sendpage")
int BPF_KRETPROBE(krp_tcp_sendpage, int ret)
{
	struct call_args a;
	struct sock *sk;

	if (!take_call(CALL_TCP_SENDPAGE, &a) || ret <= 0)
		return 0;
	sk = (struct sock *)a.sk;
	tcp_io(sk, sk_cookie(sk), sk_family(sk), ret, 0);
	return 0;
}

/* What tcp_recvmsg returns is what the application got (tcp_cleanup_rbuf also runs for MSG_PEEK, and
 * twice for a read that waited half way). */
SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_tcp_recvmsg, struct sock *sk, void *msg, __u64 len, __u64 arg4, __u64 arg5)
{
	if (recv_flags(arg4, arg5) & MSG_PEEK)
		return 0;
	return stash_call(CALL_TCP_RECVMSG, sk, NULL);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(krp_tcp_recvmsg, int ret)
{
	struct call_args a;
	struct sock *sk;

	if (!take_call(CALL_TCP_RECVMSG, &a) || ret <= 0)
		return 0;
	sk = (struct sock *)a.sk;
	tcp_io(sk, sk_cookie(sk), sk_family(sk), 0, ret);
	return 0;
}

/* udpv6_sendmsg hands v4-mapped destinations to udp_sendmsg with the same (AF_INET6) socket: the v4
 * functions count AF_INET sockets only, so such a datagram is counted once, by the v6 one. */
static __always_inline int udp_enter(__u32 fn, struct sock *sk, void *msg, __u16 family, bool peek)
{
	if (peek || sk_family(sk) != family)
		return 0;
	return stash_call(fn, sk, msg);
}

static __always_inline int udp_return(__u32 fn, __u16 family, long ret, bool send)
{
	struct call_args a;
	struct sock *sk;
	__u64 cookie;

	if (!take_call(fn, &a))
		return 0;
	sk = (struct sock *)a.sk;
	cookie = sk_cookie(sk);
	udp_msg_io(sk, cookie ? cookie : udp_address_key(sk, sk_sport(sk)), family, (void *)a.msg, ret, send);
	return 0;
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(kp_udp_sendmsg, struct sock *sk, void *msg)
{
	return udp_enter(CALL_UDP_SENDMSG, sk, msg, AF_INET, false);
}

SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(krp_udp_sendmsg, int ret)
{
	return udp_return(CALL_UDP_SENDMSG, AF_INET, ret, true);
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(kp_udpv6_sendmsg, struct sock *sk, void *msg)
{
	return udp_enter(CALL_UDPV6_SENDMSG, sk, msg, AF_INET6, false);
}

SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(krp_udpv6_sendmsg, int ret)
{
	return udp_return(CALL_UDPV6_SENDMSG, AF_INET6, ret, true);
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(kp_udp_recvmsg, struct sock *sk, void *msg, __u64 len, __u64 arg4, __u64 arg5)
{
	return udp_enter(CALL_UDP_RECVMSG, sk, msg, AF_INET, recv_flags(arg4, arg5) & MSG_PEEK);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(krp_udp_recvmsg, int ret)
{
	return udp_return(CALL_UDP_RECVMSG, AF_INET, ret, false);
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(kp_udpv6_recvmsg, struct sock *sk, void *msg, __u64 len, __u64 arg4, __u64 arg5)
{
	return udp_enter(CALL_UDPV6_RECVMSG, sk, msg, AF_INET6, recv_flags(arg4, arg5) & MSG_PEEK);
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(krp_udpv6_recvmsg, int ret)
{
	return udp_return(CALL_UDPV6_RECVMSG, AF_INET6, ret, false);
}

/* tcp_v6_connect hands v4-mapped destinations to tcp_v4_connect with the same (AF_INET6) socket. */
SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(kp_tcp_v4_connect, struct sock *sk)
{
	if (sk_family(sk) != AF_INET)
		return 0;
	return stash_call(CALL_TCP_V4_CONNECT, sk, NULL);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(krp_tcp_v4_connect, int ret)
{
	struct call_args a;
	struct sock *sk;

	if (!take_call(CALL_TCP_V4_CONNECT, &a))
		return 0;
	sk = (struct sock *)a.sk;
	tcp_connected(sk, sk_cookie(sk), AF_INET, ret);
	return 0;
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(kp_tcp_v6_connect, struct sock *sk)
{
	return stash_call(CALL_TCP_V6_CONNECT, sk, NULL);
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(krp_tcp_v6_connect, int ret)
{
	struct call_args a;
	struct sock *sk;

	if (!take_call(CALL_TCP_V6_CONNECT, &a))
		return 0;
	sk = (struct sock *)a.sk;
	tcp_connected(sk, sk_cookie(sk), AF_INET6, ret);
	return 0;
}

/* accept() got a child socket: the accepting process owns it. */
SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(krp_inet_csk_accept, struct sock *child)
{
	tcp_accepted(child);
	return 0;
}

/* The application released a TCP socket. */
SEC("kprobe/tcp_close")
int BPF_KPROBE(kp_tcp_close, struct sock *sk)
{
	tcp_released(sk, sk_cookie(sk));
	return 0;
}

#endif
