/* The part of nettop's kernel side that both objects share: settings, maps and workers.
 *
 * nettop.bpf.c reads sockets with CO-RE (kernels with BTF); nettop_nobtf.bpf.c at offsets user space
 * guessed (kernels without BTF). Each defines the socket accessors declared below (after including this
 * file), so every worker is written once.
 *
 * Keys. Programs with typed socket pointers (tp_btf, fentry) get the socket cookie from
 * bpf_get_socket_cookie(), which generates it. The others (kprobes, classic tracepoints) cannot call it:
 * they read the cookie field, which cgroup/sock_create fills for every socket created while nettop
 * runs, and fall back to the sock's address for the rest (accepted children, sockets older than
 * nettop). A TCP entry stays under the key it was created with (find_tcp looks under both) and is
 * deleted when its socket is destroyed, so a freed address is no longer a key when the kernel reuses it.
 * A UDP socket older than nettop is keyed by address and ends by idle expiry (its release names a cookie);
 * a new UDP socket always has a cookie, so it never takes over such an entry.
 */
#ifndef NETTOP_COMMON_BPF_H
#define NETTOP_COMMON_BPF_H

struct sock;

/* ---- socket accessors, defined by each object ---- */
static __always_inline __u16 sk_family(struct sock *sk);
/* saddr, daddr, sport, dport of `v` */
static __always_inline void sk_tuple(struct sock *sk, __u16 family, struct nt_conn_info *v);
/* the local port, host order */
static __always_inline __u16 sk_sport(struct sock *sk);
/* network namespace inode */
static __always_inline __u32 sk_netns(struct sock *sk);
/* TCP state; 0 where it is not read */
static __always_inline __u8 sk_state(struct sock *sk);
/* SOCK_*_LOCK bits */
static __always_inline __u8 sk_userlocks(struct sock *sk);
/* the kernel's socket cookie, 0 until something generated it */
static __always_inline __u64 sk_cookie(struct sock *sk);
/* the application let go of it (SOCK_DEAD); false where not read (tcp:tcp_destroy_sock finishes it) */
static __always_inline bool sk_dead(struct sock *sk);
/* TCP segments in a (GSO) skb; 1 where not read */
static __always_inline __u16 skb_segs(void *skb);

/* ---- settings, written by user space before load ---- */
const volatile struct nt_settings settings = {
	.collect_tcp = 1,
	.collect_udp = 1,
	.collect_ipv6 = 1,
	.release_hook = 0,
};

/* What user space learned about this kernel (nettop.h); the no-BTF object reads its offsets here. */
const volatile struct nt_kernel_facts facts = {};

/* ---- maps ---- */

/* Connections. Key: socket cookie or address (+ UDP peer). Value: cumulative counters.
 * Created by the first event of a socket end; deleted here on close (after queueing the close event),
 * or by user space when an entry expires or was marked closed. Size: --max-connections (set at load). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nt_conn_key);
	__type(value, struct nt_conn_info);
} conns SEC(".maps");

/* Closes, listener changes and UDP releases, for user space to drain every tick. 8 MB: about 55,000 events
 * a tick. It is mapped twice into nettop, so it counts 16 MB in its RSS; 4 MB lost 107,000 events when
 * 100,000 connections closed at once (the closes are reaped from `conns` with exact counts, but a lost
 * listen or UDP release is not recovered). */
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

/* Dirty tracking, so that a tick reads only the entries that changed since the last one, not the whole map.
 * `epoch` (one __u64, mmap'd by user space) is the tick being gathered; user space advances it, then drains
 * `dirty`. The first change of an entry in an epoch queues its key; later changes in the same epoch do not,
 * since user space reads the entry after advancing the epoch, so it sees them all. When `dirty` is full the
 * key is counted in NT_CNT_DIRTY_LOST instead and user space reads the whole map at its next tick. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} epoch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} dirty SEC(".maps");

/* Connections already counted as not tracked because `conns` was full, so each is counted once.
 * TCP entries are deleted when their socket is destroyed; the rest (UDP peers) age out of the LRU.
 * Size: --max-connections, at least 65536 (set at load); past that many untracked connections alive at
 * once, the LRU forgets some and they may be counted again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nt_conn_key);
	__type(value, __u8);
} untracked SEC(".maps");

/* Set once anything went into `untracked`: until the map is first full, a destroyed socket need not be
 * looked up there (one hash lookup less for every TCP socket the host frees). */
static volatile __u8 untracked_used;

enum sys_kind {
	SYS_SENDTO = 1, SYS_SENDMSG, SYS_SENDMMSG,
	SYS_RECVFROM, SYS_RECVMSG, SYS_RECVMMSG,
};

/* Per thread, the socket syscall in progress (tracepoint backend): where its peer sockaddr(s) live in
 * user memory, and a UDP receive waiting for the kernel to copy the sender's address out.
 * Key: pid_tgid. Created at sys_enter, deleted at sys_exit. */
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

/* Per thread, the peer of the UDP datagram being sent or received (tracepoint backend with a cgroup v2
 * hierarchy): the cgroup sendmsg4/6 and recvmsg4/6 hooks, inside udp_sendmsg/udp_recvmsg, leave it here
 * and sock:sock_send_length / sock_recv_length, when that call returns, take it.
 *
 * A thread's slot is the array element at its thread id's low bits (an inlined lookup, where a hash map
 * costs a hash and a bucket walk on every datagram, twice). It is the thread's while `id` holds its
 * pid_tgid: the hook claims a free slot with a compare-and-swap, the take frees it. The rare thread that
 * finds its slot held by another (two threads whose ids share the low bits, each in a UDP call at that
 * moment) uses `peer_spill`, keyed by pid_tgid. Only the written part of a 64-byte slot is hot, so two
 * threads' slots do not share a cache line. */
struct udp_peer {
	__u64 id;              /* pid_tgid of the thread whose slot it is; 0 when free (unused in peer_spill) */
	__u64 cookie;          /* the socket the peer belongs to; 0 once taken (peer_spill) */
	__u8 addr[16];         /* network order, v4 in the first 4 bytes */
	__u16 port;            /* host order */
	__u16 _pad[15];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NT_PEER_SLOTS);
	__type(key, __u32);
	__type(value, struct udp_peer);
} peer_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct udp_peer);
} peer_spill SEC(".maps");

/* Set once a thread's peer went to peer_spill: until then a take does not look there. */
static volatile __u8 peer_spill_used;

/* Per thread, the arguments of a kernel function in progress, from its kprobe to its kretprobe (kprobe
 * backend). Key: pid_tgid. Created at entry, deleted at return (a lost return is overwritten by the
 * thread's next call). */
enum call_fn {
	CALL_TCP_SENDMSG = 1, CALL_TCP_RECVMSG, CALL_UDP_SENDMSG, CALL_UDP_RECVMSG,
	CALL_UDPV6_SENDMSG, CALL_UDPV6_RECVMSG, CALL_TCP_V4_CONNECT, CALL_TCP_V6_CONNECT, CALL_TCP_SENDPAGE,
};

struct call_args {
	__u64 sk;
	__u64 msg;
	__u32 fn;              /* enum call_fn: a return only takes its own function's arguments */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call_args);
} calls SEC(".maps");

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

/* A clock for the time of an entry's last activity, per CPU: the kernel's monotonic time read once per
 * jiffy. bpf_ktime_get_ns() reads the clock source (about 70 ns in a VM) on every send, receive and state
 * change; jiffies is a plain load. Late by at most a jiffy (1-10 ms), which idle expiry and the age shown
 * do not notice. */
struct clock_cache {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} clock SEC(".maps");

/* ---- workers ---- */

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

/* Marks `v` active now (the per-jiffy clock); never moves its time back, nor before its creation. */
static __always_inline void touch(struct nt_conn_info *v)
{
	__u32 zero = 0;
	struct clock_cache *c = bpf_map_lookup_elem(&clock, &zero);
	__u64 j = bpf_jiffies64();
	__u64 now;

	if (!c) {
		now = bpf_ktime_get_ns();
	} else {
		if (c->jiffies != j) {
			c->jiffies = j;
			c->ns = bpf_ktime_get_ns();
		}
		now = c->ns;
	}
	if (now > v->last_ns)
		v->last_ns = now;
}

/* The low bits of the epoch user space is gathering. */
static __always_inline __u16 current_epoch(void)
{
	__u32 zero = 0;
	__u64 *now = bpf_map_lookup_elem(&epoch, &zero);
	return now ? (__u16)*now : 0;
}

/* Queues `key` for user space's next tick; a full queue is counted (user space then reads the whole map). */
static __always_inline void queue_dirty(const struct nt_conn_key *key)
{
	if (bpf_ringbuf_output(&dirty, (void *)key, sizeof(*key), 0))
		count(NT_CNT_DIRTY_LOST);
}

/* Called after every change to the entry `v` of `key`: queues the key once per epoch. The change is made
 * first, so that user space reading the entry after it advanced the epoch either sees the change or gets
 * the key at its next tick. */
static __always_inline void mark_dirty(const struct nt_conn_key *key, struct nt_conn_info *v)
{
	__u16 e = current_epoch();

	if (v->dirty_epoch == e)
		return;
	v->dirty_epoch = e;
	queue_dirty(key);
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
static __always_inline void read_sock(struct sock *sk, __u16 family, __u16 proto, struct nt_conn_info *v)
{
	v->family = family;
	v->proto = proto;
	sk_tuple(sk, family, v);
	v->netns = sk_netns(sk);
	if (proto == IPPROTO_TCP)
		v->tcp_state = sk_state(sk);
}

/* The key of a socket end seen by a hook that cannot generate the cookie. */
static __always_inline __u64 sk_read_key(struct sock *sk)
{
	__u64 cookie = sk_cookie(sk);
	return cookie ? cookie : (__u64)sk;
}

/* The key of a UDP socket end: its cookie; where it has none (a hook that cannot make one, and no cgroup
 * v2 whose sock_create hook would have), its address with its local port folded into the top bits. Without
 * cgroup v2 no release event ends a UDP entry, and a freed socket's address comes back with the next
 * socket: its port tells the two apart (an address alone merged the next client's rows into the last's). */
static __always_inline __u64 udp_address_key(struct sock *sk, __u16 sport)
{
	__u64 address = 0;

	/* The pointer as a number: a tp_btf argument is a typed pointer, on which the verifier allows no
	 * XOR (those programs always have a cookie; the verifier still checks this path). */
	bpf_probe_read_kernel(&address, sizeof(address), &sk);
	return address ^ ((__u64)sport << 48);
}

/* The TCP entry of `sk` under whichever key it was created with; `cookie` is the socket's cookie, 0 if
 * it has none. On a miss `key` is left at the key a new entry takes. */
static __always_inline struct nt_conn_info *find_tcp(struct sock *sk, __u64 cookie, struct nt_conn_key *key)
{
	struct nt_conn_info *v;

	if (cookie) {
		key->cookie = cookie;
		v = bpf_map_lookup_elem(&conns, key);
		if (v || settings.cookie_keys)
			return v;
	}
	key->cookie = (__u64)sk;
	v = bpf_map_lookup_elem(&conns, key);
	if (v)
		return v;
	key->cookie = cookie ? cookie : (__u64)sk;
	return NULL;
}

static __always_inline void set_owner(struct nt_conn_info *v)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (v->pid != tgid) {
		v->pid = tgid;
		bpf_get_current_comm(v->comm, sizeof(v->comm));
	}
}

/* Inserts the entry of `key` from `tmpl` (tuple, origin, owner) and queues its key: 0, -EEXIST when
 * another CPU created it first, or another error when the map is full (counted once). */
static __always_inline long insert(struct nt_conn_key *key, struct nt_conn_info *tmpl)
{
	__u64 now = bpf_ktime_get_ns();

	tmpl->first_ns = now;
	tmpl->last_ns = now;
	tmpl->dirty_epoch = current_epoch();
	long err = bpf_map_update_elem(&conns, key, tmpl, BPF_NOEXIST);
	if (!err) {
		queue_dirty(key); /* after the insert, like every change (mark_dirty) */
	} else if (err != -EEXIST) {
		__u8 one = 1;
		untracked_used = 1;
		if (bpf_map_update_elem(&untracked, key, &one, BPF_NOEXIST) == 0)
			count(NT_CNT_MAP_FULL);
	}
	return err;
}

/* Creates the entry of `key` from `tmpl`, or finds the one another CPU just created; NULL when the map is
 * full. The caller's add_io marks it dirty. */
static __always_inline struct nt_conn_info *create(struct nt_conn_key *key, struct nt_conn_info *tmpl)
{
	long err = insert(key, tmpl);

	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(&conns, key);
}

static __always_inline void add_io(const struct nt_conn_key *key, struct nt_conn_info *v, __u64 sent, __u64 recv,
				   bool owner)
{
	if (sent)
		__sync_fetch_and_add(&v->sent_bytes, sent);
	if (recv)
		__sync_fetch_and_add(&v->recv_bytes, recv);
	touch(v);
	if (owner)
		set_owner(v);
	mark_dirty(key, v);
}

/* Adds to the entry of `key`, creating it from `tmpl` (tuple, origin, owner) if it is new. */
static __always_inline struct nt_conn_info *
account(struct nt_conn_key *key, struct nt_conn_info *tmpl, __u64 sent, __u64 recv, bool owner)
{
	struct nt_conn_info *v = bpf_map_lookup_elem(&conns, key);

	if (!v)
		v = create(key, tmpl);
	if (!v)
		return NULL;
	add_io(key, v, sent, recv, owner);
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

	touch(v);
	if (!e) {
		v->closed = 1;
		count(NT_CNT_EVENTS_LOST);
		mark_dirty(key, v);
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

/* A sockaddr (first 24 bytes) into the key's peer and the template's remote end. */
static __always_inline bool parse_peer(__u8 *buf, struct nt_conn_key *key, struct nt_conn_info *v)
{
	__u16 family = *(__u16 *)buf;

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

/* Reads the peer sockaddr at user address `sa` into the key and the template. */
static __always_inline bool read_peer(__u64 sa, struct nt_conn_key *key, struct nt_conn_info *v)
{
	__u8 buf[24] = {};

	if (!sa || bpf_probe_read_user(buf, sizeof(buf), (void *)sa))
		return false;
	return parse_peer(buf, key, v);
}

/* Reads the peer of a kernel struct msghdr (msg_name, its first member in every kernel: a kernel copy of
 * the sockaddr, filled on receive by the time the function returns). */
static __always_inline bool read_msg_peer(void *msg, struct nt_conn_key *key, struct nt_conn_info *v)
{
	__u8 buf[24] = {};
	__u64 name = 0;

	if (!msg || bpf_probe_read_kernel(&name, sizeof(name), msg) || !name)
		return false;
	if (bpf_probe_read_kernel(buf, sizeof(buf), (void *)name))
		return false;
	return parse_peer(buf, key, v);
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

/* `v` holds the socket's own tuple: a connected UDP socket has a remote port. */
static __always_inline __u8 udp_origin(struct sock *sk, struct nt_conn_info *v)
{
	__u8 locks = sk_userlocks(sk);
	/* bind() to an explicit port and no connect(): a server socket. */
	if ((locks & SOCK_BINDPORT_LOCK) && !v->dport)
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

/* Bytes an application moved through a TCP socket. `cookie`: 0 if the hook could not get it. */
static __always_inline void tcp_io(struct sock *sk, __u64 cookie, __u16 family, __u64 sent, __u64 recv)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;
	struct nt_event *e;

	if (!wanted(family, IPPROTO_TCP))
		return;
	/* The key on the stack: the 200-byte scratch is cleared only to create an entry. */
	v = find_tcp(sk, cookie, &key);
	if (!v) {
		e = scratch_event();
		if (!e)
			return;
		e->key = key;
		read_sock(sk, family, IPPROTO_TCP, &e->info);
		v = create(&e->key, &e->info);
		if (!v)
			return;
	}
	add_io(&key, v, sent, recv, true);
}

/* This thread's slot in peer_slots (never NULL once the verifier knows the index is in range). */
static __always_inline struct udp_peer *peer_slot(__u64 id)
{
	__u32 idx = (__u32)id & settings.peer_slot_mask;
	return bpf_map_lookup_elem(&peer_slots, &idx);
}

/* The peer the cgroup hooks left for this thread's datagram on socket `cookie`, taken into `key`;
 * false if there is none (a connected socket's send, a receive that asked for no address). Taken even
 * when the call failed, so that it is never used for a later datagram. */
static __always_inline bool take_peer(__u64 cookie, struct nt_conn_key *key)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct udp_peer *p = peer_slot(id);
	bool found;

	if (p && p->id == id) {
		found = cookie && p->cookie == cookie;
		if (found) {
			__builtin_memcpy(key->peer_addr, p->addr, 16);
			key->peer_port = p->port;
		}
		/* Frees the slot after the reads above (the compare-and-swap orders them on every CPU). */
		__sync_val_compare_and_swap(&p->id, id, 0);
		return found;
	}
	if (!peer_spill_used)
		return false;
	p = bpf_map_lookup_elem(&peer_spill, &id);
	if (!p || !cookie || p->cookie != cookie)
		return false;
	p->cookie = 0;
	__builtin_memcpy(key->peer_addr, p->addr, 16);
	key->peer_port = p->port;
	return true;
}

/* A UDP datagram of `bytes` moved through `sk` to or from the peer in `key` (`has_peer`), else the
 * socket's own peer. The socket is read only when the entry is new, or for a connected socket's peer. */
static __always_inline void udp_io(struct sock *sk, __u16 family, struct nt_conn_key *key, bool has_peer,
				   __u64 bytes, bool send)
{
	struct nt_conn_info *v = NULL;
	struct nt_event *e;

	if (has_peer)
		v = bpf_map_lookup_elem(&conns, key);
	if (!v) {
		e = scratch_event();
		if (!e)
			return;
		e->key = *key;
		read_sock(sk, family, IPPROTO_UDP, &e->info);
		e->info.origin = udp_origin(sk, &e->info);
		if (has_peer) {
			__builtin_memcpy(e->info.daddr, key->peer_addr, 16);
			e->info.dport = key->peer_port;
		} else if (!sock_peer(&e->key, &e->info)) {
			count(NT_CNT_UDP_NO_PEER);
		}
		v = bpf_map_lookup_elem(&conns, &e->key);
		if (!v)
			v = create(&e->key, &e->info);
		if (!v)
			return;
		key = &e->key;
	}
	add_io(key, v, send ? bytes : 0, send ? 0 : bytes, true);
}

/* sock_send_length / sock_recv_length (tracepoint backend): every byte an application moves through a
 * socket. A UDP datagram's peer comes from the cgroup hooks (settings.peer_hooks), or without a cgroup
 * v2 hierarchy from the syscall in progress (sys_ctx). */
static __always_inline int handle_io(struct sock *sk, __u64 cookie, __u16 family, __u16 proto, int ret,
				     int flags, bool send)
{
	struct nt_conn_key key = {};
	struct sys_ctx *c = NULL;
	struct nt_event *e;
	bool has_peer = false;
	__u32 index = 0;

	if (!wanted(family, proto))
		return 0;
	/* Before the checks below: a failed or peeking call still takes its peer or message slot. */
	if (settings.peer_hooks) {
		has_peer = proto == IPPROTO_UDP && take_peer(cookie, &key);
	} else {
		__u64 id = bpf_get_current_pid_tgid();

		c = bpf_map_lookup_elem(&sysctx, &id);
		if (c) {
			bool is_send = c->kind <= SYS_SENDMMSG;
			if (is_send != send)
				c = NULL; /* e.g. a read() inside a sendfile: not this syscall's message */
			else
				index = c->index++;
		}
	}
	if (ret <= 0 || (!send && (flags & MSG_PEEK)))
		return 0;

	if (proto == IPPROTO_TCP) {
		tcp_io(sk, cookie, family, send ? ret : 0, send ? 0 : ret);
		return 0;
	}
	if (settings.peer_hooks) {
		key.cookie = cookie ? cookie : udp_address_key(sk, sk_sport(sk));
		udp_io(sk, family, &key, has_peer, ret, send);
		return 0;
	}

	e = scratch_event();
	if (!e)
		return 0;
	read_sock(sk, family, proto, &e->info);
	e->key.cookie = cookie ? cookie : udp_address_key(sk, e->info.sport);
	e->info.origin = udp_origin(sk, &e->info);
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

/* udp_sendmsg / udp_recvmsg and their v6 twins returned `ret` (kprobe and fentry backends): the peer is
 * in the kernel msghdr, or the socket's own for a connected socket. */
static __always_inline void udp_msg_io(struct sock *sk, __u64 key, __u16 family, void *msg, long ret, bool send)
{
	struct nt_event *e;

	if (ret <= 0 || !wanted(family, IPPROTO_UDP))
		return;
	e = scratch_event();
	if (!e)
		return;
	e->key.cookie = key;
	read_sock(sk, family, IPPROTO_UDP, &e->info);
	e->info.origin = udp_origin(sk, &e->info);
	if (!read_msg_peer(msg, &e->key, &e->info) && !sock_peer(&e->key, &e->info))
		count(NT_CNT_UDP_NO_PEER);
	account(&e->key, &e->info, send ? ret : 0, send ? 0 : ret, true);
}

/* A TCP socket changed state (sock:inet_sock_set_state): listeners, connects, accepted children, closes. */
static __always_inline void tcp_state_change(struct sock *sk, __u64 cookie, __u16 family, int oldstate,
					     int newstate)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;
	struct nt_event *e;

	if (!wanted(family, IPPROTO_TCP))
		return;

	/* A listener's child is born as a copy of it (inet_csk_clone_lock) and leaves LISTEN for SYN_RECV:
	 * not the listener closing. Its entry is made when it is established, below. */
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV)
		return;
	if (newstate == TCP_LISTEN || oldstate == TCP_LISTEN) {
		e = scratch_event();
		if (!e)
			return;
		read_sock(sk, family, IPPROTO_TCP, &e->info);
		e->info.tcp_state = newstate;
		/* listen() runs in its caller's context: the listener's owner. */
		if (newstate == TCP_LISTEN)
			set_owner(&e->info);
		emit_simple(newstate == TCP_LISTEN ? NT_EV_LISTEN : NT_EV_UNLISTEN, 0, &e->info);
		return;
	}

	bool child = oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED;
	if (child && settings.cookie_keys) {
		/* A new socket whose cookie was just made: nothing is under it. */
		key.cookie = cookie;
		v = NULL;
	} else {
		v = find_tcp(sk, cookie, &key);
	}
	if (newstate == TCP_SYN_SENT || child) {
		if (v) {
			/* Left by an earlier socket at this address whose end was missed, or by this socket's
			 * failed connect(): close it first. */
			finish_tcp(&key, v);
			key.cookie = cookie ? cookie : (__u64)sk;
		}
		e = scratch_event();
		if (!e)
			return;
		e->key = key;
		read_sock(sk, family, IPPROTO_TCP, &e->info);
		e->info.tcp_state = newstate;
		if (child) {
			/* A listener's child, in softirq: no owner until accept() (fentry, kprobe) or the first
			 * I/O; until then user space shows the listener's owner. */
			e->info.origin = NT_ORIGIN_ACCEPT;
		} else {
			/* connect(): process context, the connecting process owns it. */
			e->info.origin = NT_ORIGIN_CONNECT;
			set_owner(&e->info);
		}
		/* Made whole here, so no lookups follow the insert; only a race with another CPU adds to the
		 * entry that CPU made. */
		if (insert(&e->key, &e->info) == -EEXIST)
			account(&e->key, &e->info, 0, 0, !child);
		return;
	}
	if (!v)
		return;
	/* The tuple is complete once connected (the local port is chosen after SYN_SENT); from CLOSE on
	 * the kernel may already have released the port, so it is not read again after that. */
	if (newstate == TCP_ESTABLISHED) {
		struct nt_conn_info t = {};

		sk_tuple(sk, family, &t);
		__builtin_memcpy(v->saddr, t.saddr, 16);
		__builtin_memcpy(v->daddr, t.daddr, 16);
		v->sport = t.sport;
		v->dport = t.dport;
	}
	v->tcp_state = newstate;
	touch(v);
	mark_dirty(&key, v);
	if (newstate == TCP_CLOSE) {
		/* Still held by the application, it may read what is queued: wait for its release (or for
		 * tcp:tcp_destroy_sock, which comes after it). */
		if (!settings.release_hook || v->released || sk_dead(sk))
			finish_tcp(&key, v);
	}
}

/* The kernel destroyed a TCP socket (tcp:tcp_destroy_sock): after the application's release, so nothing
 * more can be counted on it. Finishes entries whose release no other hook saw. */
static __always_inline void tcp_destroyed(struct sock *sk)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v = find_tcp(sk, sk_cookie(sk), &key);

	if (v)
		finish_tcp(&key, v);
	else if (untracked_used && bpf_map_lookup_elem(&untracked, &key)) /* a lookup takes no lock */
		bpf_map_delete_elem(&untracked, &key);  /* its key may come back with a new socket */
}

/* The application released a TCP socket (tcp_close): no more I/O can come. */
static __always_inline void tcp_released(struct sock *sk, __u64 cookie)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v = find_tcp(sk, cookie, &key);

	if (v) {
		v->released = 1;
		mark_dirty(&key, v);
	}
}

/* accept() returned this child: its process owns the connection from now on. */
static __always_inline void tcp_accepted(struct sock *sk)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;

	if (!sk)
		return;
	v = find_tcp(sk, sk_cookie(sk), &key);
	if (v) {
		set_owner(v);
		mark_dirty(&key, v);
	}
}

/* tcp_v4_connect / tcp_v6_connect returned: the local port is chosen, the tuple complete. */
static __always_inline void tcp_connected(struct sock *sk, __u64 cookie, __u16 family, long ret)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v;
	struct nt_conn_info t = {};

	if (ret || !wanted(family, IPPROTO_TCP))
		return;
	v = find_tcp(sk, cookie, &key);
	if (!v)
		return;
	sk_tuple(sk, family, &t);
	__builtin_memcpy(v->saddr, t.saddr, 16);
	__builtin_memcpy(v->daddr, t.daddr, 16);
	v->sport = t.sport;
	v->dport = t.dport;
	set_owner(v);
	mark_dirty(&key, v);
}

/* A TCP segment (or `segs` of them) was retransmitted. */
static __always_inline void tcp_retransmitted(struct sock *sk, __u16 segs)
{
	struct nt_conn_key key = {};
	struct nt_conn_info *v = find_tcp(sk, sk_cookie(sk), &key);

	if (v) {
		__sync_fetch_and_add(&v->retransmits, segs ? segs : 1);
		mark_dirty(&key, v);
	}
}

/* ---- stashing a kernel function's arguments from its kprobe to its kretprobe ---- */

static __always_inline int stash_call(__u32 fn, void *sk, void *msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args a = { .sk = (__u64)sk, .msg = (__u64)msg, .fn = fn };

	bpf_map_update_elem(&calls, &id, &a, BPF_ANY);
	return 0;
}

/* The arguments `fn` stashed on this thread, removed from the map; false if none. */
static __always_inline bool take_call(__u32 fn, struct call_args *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *a = bpf_map_lookup_elem(&calls, &id);

	if (!a || a->fn != fn)
		return false;
	*out = *a;
	bpf_map_delete_elem(&calls, &id);
	return true;
}

#endif
