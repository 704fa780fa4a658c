// SPDX-License-Identifier: GPL-2.0
/* nettop's kernel side: per-socket-end TCP and UDP counters in a hash map that user space polls, and a
 * ring buffer for what must not be missed between two polls (closes, listeners, released UDP sockets).
 *
 * Backend "tracepoint": tp_btf programs on sock:* and tcp:* tracepoints, classic tracepoints on the
 * socket syscalls (to learn a UDP datagram's peer from the syscall's sockaddr), and a cgroup
 * sock_release program (to know when the application let go of a socket).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "vmlinux_subset.h"
#include "nettop.h"

/* ---- settings, written by user space before load ---- */
const volatile struct nt_settings settings = {
	.collect_tcp = 1,
	.collect_udp = 1,
	.collect_ipv6 = 1,
	.release_hook = 0,
};

/* ---- maps ---- */

/* Connections. Key: socket cookie (+ UDP peer). Value: cumulative counters.
 * Created by the first event of a socket end; deleted here on close (after queueing the close event),
 * or by user space when an entry expires or was marked closed. Size: --max-connections (set at load). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nt_conn_key);
	__type(value, struct nt_conn_info);
} conns SEC(".maps");

/* Closes, listener changes and UDP releases, for user space to drain every tick. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} events SEC(".maps");

/* Self-telemetry (enum nt_counter), summed over CPUs by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Connections already counted as not tracked because `conns` was full, so each is counted once.
 * LRU: bounded, forgets the oldest. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct nt_conn_key);
	__type(value, __u8);
} untracked SEC(".maps");

enum sys_kind {
	SYS_SENDTO = 1, SYS_SENDMSG, SYS_SENDMMSG,
	SYS_RECVFROM, SYS_RECVMSG, SYS_RECVMMSG,
};

/* Per thread, the socket syscall in progress: where its peer sockaddr(s) live in user memory, and a UDP
 * receive waiting for the kernel to copy the sender's address out. Key: pid_tgid. Created at
 * sys_enter, deleted at sys_exit. */
struct sys_ctx {
	__u64 uptr;            /* sockaddr* (sendto/recvfrom), user_msghdr* or mmsghdr* */
	__u32 kind;            /* enum sys_kind */
	__u32 index;           /* next message of a sendmmsg/recvmmsg */
	__u32 pending;         /* a UDP receive awaits its peer */
	__u32 pending_index;
	__u64 pending_bytes;
	struct nt_conn_key pending_key;
	struct nt_conn_info pending_tmpl;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sys_ctx);
} sysctx SEC(".maps");

/* Scratch for building a new entry: too large for the 512-byte stack next to a sys_ctx. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_event);
} scratch SEC(".maps");

/* A zeroed sys_ctx to insert from, for the same reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sys_ctx);
} ctx_scratch SEC(".maps");

/* ---- workers ---- */

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline bool wanted(__u16 family, __u16 proto)
{
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (family == AF_INET6 && !settings.collect_ipv6)
		return false;
	if (proto == IPPROTO_TCP)
		return settings.collect_tcp;
	if (proto == IPPROTO_UDP)
		return settings.collect_udp;
	return false;
}

/* Fills the tuple, netns and protocol of `v` from the socket. */
static __always_inline void read_sock(struct sock *sk, __u16 proto, struct nt_conn_info *v)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	v->family = family;
	v->proto = proto;
	v->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
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
	v->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (proto == IPPROTO_TCP)
		v->tcp_state = BPF_CORE_READ(sk, __sk_common.skc_state);
}

static __always_inline void set_owner(struct nt_conn_info *v)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (v->pid != tgid) {
		v->pid = tgid;
		bpf_get_current_comm(v->comm, sizeof(v->comm));
	}
}

/* Adds to the entry of `key`, creating it from `tmpl` (tuple, origin, owner) if it is new. */
static __always_inline struct nt_conn_info *
account(struct nt_conn_key *key, struct nt_conn_info *tmpl, __u64 sent, __u64 recv, bool owner)
{
	struct nt_conn_info *v = bpf_map_lookup_elem(&conns, key);
	__u64 now = bpf_ktime_get_ns();

	if (!v) {
		tmpl->first_ns = now;
		tmpl->last_ns = now;
		long err = bpf_map_update_elem(&conns, key, tmpl, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU created it first */) {
			__u8 one = 1;
			if (bpf_map_update_elem(&untracked, key, &one, BPF_NOEXIST) == 0)
				count(NT_CNT_MAP_FULL);
			return NULL;
		}
		v = bpf_map_lookup_elem(&conns, key);
		if (!v)
			return NULL;
	}
	if (sent)
		__sync_fetch_and_add(&v->sent_bytes, sent);
	if (recv)
		__sync_fetch_and_add(&v->recv_bytes, recv);
	v->last_ns = now;
	if (owner)
		set_owner(v);
	return v;
}

static __always_inline struct nt_event *scratch_event(void)
{
	__u32 zero = 0;
	struct nt_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (e)
		__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* Queues the final state of a TCP connection and forgets it. If the ring buffer is full the entry stays,
 * marked closed, and user space reaps it from the map at its next poll: the counts are never lost. */
static __always_inline void finish_tcp(struct nt_conn_key *key, struct nt_conn_info *v)
{
	struct nt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	v->last_ns = bpf_ktime_get_ns();
	if (!e) {
		v->closed = 1;
		count(NT_CNT_EVENTS_LOST);
		return;
	}
	e->kind = NT_EV_CLOSE;
	e->_pad = 0;
	e->key = *key;
	e->info = *v;
	e->info.closed = 1;
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&conns, key);
}

static __always_inline void emit_simple(__u32 kind, __u64 cookie, struct nt_conn_info *info)
{
	struct nt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(NT_CNT_EVENTS_LOST);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->key.cookie = cookie;
	if (info)
		e->info = *info;
	bpf_ringbuf_submit(e, 0);
}

/* Reads the peer sockaddr at user address `sa` into the key and the template. */
static __always_inline bool read_peer(__u64 sa, struct nt_conn_key *key, struct nt_conn_info *v)
{
	__u8 buf[24] = {};
	__u16 family;

	if (!sa || bpf_probe_read_user(buf, sizeof(buf), (void *)sa))
		return false;
	family = *(__u16 *)buf;
	if (family == AF_INET) {
		__builtin_memset(key->peer_addr, 0, 16);
		__builtin_memcpy(key->peer_addr, buf + 4, 4);
	} else if (family == AF_INET6) {
		__builtin_memcpy(key->peer_addr, buf + 8, 16);
	} else {
		return false;
	}
	key->peer_port = bpf_ntohs(*(__u16 *)(buf + 2));
	__builtin_memcpy(v->daddr, key->peer_addr, 16);
	v->dport = key->peer_port;
	return true;
}

/* The user address of the peer sockaddr of message `index` of the syscall in `c` (0 if none). */
static __always_inline __u64 peer_uaddr(struct sys_ctx *c, __u32 index)
{
	__u64 name = 0;

	switch (c->kind) {
	case SYS_SENDTO:
	case SYS_RECVFROM:
		return c->uptr;
	case SYS_SENDMSG:
	case SYS_RECVMSG: /* struct user_msghdr: msg_name first */
		bpf_probe_read_user(&name, sizeof(name), (void *)c->uptr);
		return name;
	case SYS_SENDMMSG:
	case SYS_RECVMMSG: /* struct mmsghdr: 64 bytes on 64-bit, msg_hdr.msg_name first */
		if (index > 1024)
			return 0;
		bpf_probe_read_user(&name, sizeof(name), (void *)(c->uptr + (__u64)index * 64));
		return name;
	}
	return 0;
}

/* The socket's own peer (connected UDP); false when it has none. */
static __always_inline bool sock_peer(struct nt_conn_key *key, struct nt_conn_info *v)
{
	if (!v->dport)
		return false;
	__builtin_memcpy(key->peer_addr, v->daddr, 16);
	key->peer_port = v->dport;
	return true;
}

static __always_inline __u8 udp_origin(struct sock *sk)
{
	__u8 locks = BPF_CORE_READ(sk, sk_userlocks);
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	/* bind() to an explicit port and no connect(): a server socket. */
	if ((locks & SOCK_BINDPORT_LOCK) && state != TCP_ESTABLISHED)
		return NT_ORIGIN_UDP_BOUND;
	return NT_ORIGIN_UDP_CLIENT;
}

static __always_inline void flush_pending_recv(struct sys_ctx *c)
{
	if (!c->pending)
		return;
	c->pending = 0;
	if (!read_peer(peer_uaddr(c, c->pending_index), &c->pending_key, &c->pending_tmpl) &&
	    !sock_peer(&c->pending_key, &c->pending_tmpl))
		count(NT_CNT_UDP_NO_PEER);
	account(&c->pending_key, &c->pending_tmpl, 0, c->pending_bytes, true);
}

/* sock_send_length / sock_recv_length: every byte an application moves through a socket. */
static __always_inline int handle_io(struct sock *sk, int ret, int flags, bool send)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	__u64 id = bpf_get_current_pid_tgid();
	struct sys_ctx *c;
	struct nt_event *e;
	__u32 index = 0;

	if (!wanted(family, proto))
		return 0;
	c = bpf_map_lookup_elem(&sysctx, &id);
	if (c) {
		bool is_send = c->kind <= SYS_SENDMMSG;
		if (is_send != send)
			c = NULL; /* e.g. a read() inside a sendfile: not this syscall's message */
		else
			index = c->index++;
	}
	if (ret <= 0 || (!send && (flags & MSG_PEEK)))
		return 0;

	e = scratch_event();
	if (!e)
		return 0;
	e->key.cookie = bpf_get_socket_cookie(sk);
	read_sock(sk, proto, &e->info);

	if (proto == IPPROTO_TCP) {
		account(&e->key, &e->info, send ? ret : 0, send ? 0 : ret, true);
		return 0;
	}

	e->info.origin = udp_origin(sk);
	if (!send && c) {
		/* The sender's address reaches user memory only after this returns: finish the previous
		 * message of this syscall, keep this one until the next message or sys_exit. */
		flush_pending_recv(c);
		c->pending = 1;
		c->pending_index = index;
		c->pending_bytes = ret;
		c->pending_key = e->key;
		c->pending_tmpl = e->info;
		return 0;
	}
	if (!(send && c && read_peer(peer_uaddr(c, index), &e->key, &e->info)) && !sock_peer(&e->key, &e->info))
		count(NT_CNT_UDP_NO_PEER);
	account(&e->key, &e->info, send ? ret : 0, send ? 0 : ret, true);
	return 0;
}

/* ---- entry points ---- */

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp_sock_send_length, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp_sock_recv_length, struct sock *sk, int ret, int flags)
{
	return handle_io(sk, ret, flags, false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct nt_conn_info *v;
	struct nt_event *e;

	if (proto != IPPROTO_TCP || !wanted(family, proto))
		return 0;
	e = scratch_event();
	if (!e)
		return 0;
	read_sock(sk, proto, &e->info);
	e->info.tcp_state = newstate;

	if (newstate == TCP_LISTEN) {
		emit_simple(NT_EV_LISTEN, 0, &e->info);
		return 0;
	}
	if (oldstate == TCP_LISTEN) {
		emit_simple(NT_EV_UNLISTEN, 0, &e->info);
		return 0;
	}

	e->key.cookie = bpf_get_socket_cookie(sk);
	if (newstate == TCP_SYN_SENT) {
		/* connect(): process context, the connecting process owns it. */
		e->info.origin = NT_ORIGIN_CONNECT;
		account(&e->key, &e->info, 0, 0, true);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* A listener's child, in softirq: no owner until accept() or the first I/O. */
		e->info.origin = NT_ORIGIN_ACCEPT;
		account(&e->key, &e->info, 0, 0, false);
		return 0;
	}

	v = bpf_map_lookup_elem(&conns, &e->key);
	if (!v)
		return 0;
	/* The tuple is complete once connected (the local port is chosen after SYN_SENT); from CLOSE on
	 * the kernel may already have released the port, so it is not read again after that. */
	if (newstate == TCP_ESTABLISHED) {
		__builtin_memcpy(v->saddr, e->info.saddr, 16);
		__builtin_memcpy(v->daddr, e->info.daddr, 16);
		v->sport = e->info.sport;
		v->dport = e->info.dport;
	}
	v->tcp_state = newstate;
	v->last_ns = bpf_ktime_get_ns();
	if (newstate == TCP_CLOSE) {
		/* Still held by the application, it may read what is queued: wait for its release. */
		bool dead = BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DEAD);
		if (!settings.release_hook || dead || v->released)
			finish_tcp(&e->key, v);
	}
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit_skb(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;
	struct sock *sk = (struct sock *)BPF_CORE_READ(ctx, skaddr);
	struct sk_buff *skb = (struct sk_buff *)BPF_CORE_READ(ctx, skbaddr);
	__u16 segs = 1;

	if (bpf_core_field_exists(ctx->err) && BPF_CORE_READ(ctx, err))
		return 0; /* not sent */
	key.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!key.cookie)
		return 0; /* never seen by nettop: no entry to count on */
	v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return 0;
	bpf_probe_read_kernel(&segs, sizeof(segs),
			      (void *)skb + bpf_core_field_offset(struct sk_buff, cb) +
				      bpf_core_field_offset(struct tcp_skb_cb, tcp_gso_segs));
	__sync_fetch_and_add(&v->retransmits, segs ? segs : 1);
	return 0;
}

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
	if (ctx->state == TCP_CLOSE)
		finish_tcp(&key, v);
	return 1;
}

/* ---- socket syscalls: where a datagram's peer is ---- */

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

/* accept()/accept4() returned a descriptor: its process owns the connection from now on. */
static __always_inline int accepted(struct syscall_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct nt_conn_key key = {};
	struct nt_conn_info *v;
	struct file **fds;
	struct file *file;
	struct socket *sock;
	struct sock *sk;
	__s64 fd = ctx->ret;

	if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	key.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!key.cookie)
		return 0;
	v = bpf_map_lookup_elem(&conns, &key);
	if (v)
		set_owner(v);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct syscall_exit *ctx) { return accepted(ctx); }
SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct syscall_exit *ctx) { return accepted(ctx); }

char LICENSE[] SEC("license") = "GPL";
