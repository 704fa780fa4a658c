/* Structures shared by the BPF programs (nettop.bpf.c) and user space (TracerCore/Kernel).
 * Plain fixed-width types and explicit padding only: Swift reads these through the CBPF module,
 * so every layout change must keep both sides in step. */
#ifndef NETTOP_H
#define NETTOP_H

#ifndef __VMLINUX_SUBSET_H
#include <linux/types.h>
#endif

#define NT_COMM_LEN 16

/* Slots of the `peer_slots` array by default (a power of two: a thread's slot is its id's low bits). */
#define NT_PEER_SLOTS 16384

/* Settings user space writes into .rodata before load (one struct, so its offset is found once). */
struct nt_settings {
	__u8 collect_tcp;
	__u8 collect_udp;
	__u8 collect_ipv6;
	__u8 release_hook; /* the cgroup sock_release program is attached: TCP closes wait for release */
	__u8 peer_hooks;   /* the cgroup sendmsg/recvmsg programs are attached: UDP peers come from them */
	__u8 cookie_keys;  /* every hook gets the socket cookie: no entry is keyed by a sock's address */
	__u16 peer_slot_mask; /* peer_slots' size - 1 (NT_PEER_SLOTS - 1; fewer only in tests) */
};

enum nt_proto { NT_PROTO_TCP = 6, NT_PROTO_UDP = 17 };

/* How the kernel side saw this socket end come into being. User space turns it into a direction. */
enum nt_origin {
	NT_ORIGIN_UNKNOWN = 0,
	NT_ORIGIN_CONNECT = 1,   /* TCP connect() */
	NT_ORIGIN_ACCEPT = 2,    /* TCP child of a listener */
	NT_ORIGIN_UDP_BOUND = 3, /* UDP socket the application bound to a port, not connected */
	NT_ORIGIN_UDP_CLIENT = 4,/* UDP socket with an automatic port, or connected */
};

/* Key of the connection map: one socket end, and for UDP one peer of it.
 * The socket cookie is unique for the boot, so a freed and reused struct sock never aliases. */
struct nt_conn_key {
	__u64 cookie;
	__u8 peer_addr[16];   /* UDP peer (v4 in the first 4 bytes); zero for TCP */
	__u16 peer_port;      /* host order; zero for TCP */
	__u16 _pad[3];
};

/* Value of the connection map: cumulative counters since the entry was created. */
struct nt_conn_info {
	__u8 saddr[16];       /* local address, network order (v4 in the first 4 bytes) */
	__u8 daddr[16];       /* remote address */
	__u64 sent_bytes;
	__u64 recv_bytes;
	__u64 first_ns;       /* bpf_ktime_get_ns() at creation */
	__u64 last_ns;        /* at the last update, to the jiffy (touch()) */
	__u32 retransmits;    /* retransmitted segments */
	__u32 pid;            /* tgid of the last process that did I/O on it; 0 if none yet */
	__u32 netns;          /* network namespace inode */
	__u16 sport;          /* host order */
	__u16 dport;          /* host order */
	__u8 proto;           /* enum nt_proto */
	__u8 family;          /* AF_INET or AF_INET6 */
	__u8 origin;          /* enum nt_origin */
	__u8 tcp_state;       /* last TCP state seen (TCP_* numbering); 0 for UDP */
	__u8 closed;          /* 1: closed, but the close event could not be queued; user space reaps it */
	__u8 released;        /* the application released the socket (it can do no more I/O) */
	__u16 dirty_epoch;    /* low bits of the `epoch` in which the entry last changed (see `dirty`) */
	char comm[NT_COMM_LEN];
};

enum nt_event_kind {
	NT_EV_CLOSE = 1,       /* a TCP connection closed: key + final info */
	NT_EV_LISTEN = 2,      /* a TCP socket started listening: info.sport, netns, family, pid, comm */
	NT_EV_UNLISTEN = 3,    /* a TCP listener closed */
	NT_EV_SOCK_RELEASE = 4 /* a UDP socket was released: key.cookie; user space closes its peers */
};

/* Ring buffer record. */
struct nt_event {
	__u32 kind;
	__u32 _pad;
	struct nt_conn_key key;
	struct nt_conn_info info;
};

/* Indexes of the telemetry array (one __u64 each, per CPU). */
enum nt_counter {
	NT_CNT_MAP_FULL = 0,      /* distinct connections not tracked: the connection map was full */
	NT_CNT_EVENTS_LOST = 1,   /* ring buffer full: event not queued (closes are still reaped from the map) */
	NT_CNT_CTX_FULL = 2,      /* syscall context map full: a UDP peer fell back to the socket's own */
	NT_CNT_UDP_NO_PEER = 3,   /* UDP bytes on an unconnected socket whose peer could not be read */
	NT_CNT_DIRTY_LOST = 4,    /* `dirty` ring full: a changed entry not queued (user space reads the whole map) */
	NT_CNT_MAX = 8,
};

/* Byte offsets of the kernel fields the no-BTF object (nettop_nobtf.bpf.c) reads, found by offset
 * guessing (TracerCore/OffsetGuess). Offsets in struct sock unless said otherwise. */
struct nt_offsets {
	__u16 skc_daddr;
	__u16 skc_rcv_saddr;
	__u16 skc_dport;
	__u16 skc_num;
	__u16 skc_family;
	__u16 skc_net;            /* possible_net_t: the struct net pointer */
	__u16 net_ns_inum;        /* in struct net: ns.inum, the namespace's inode number */
	__u16 skc_v6_daddr;
	__u16 skc_v6_rcv_saddr;
	__u16 skc_cookie;
	__u16 sk_userlocks;
	__u8 sk_userlocks_shift;  /* 4 where sk_userlocks is the high nibble of a bitfield byte */
	__u8 has_v6;              /* the v6 offsets are known (IPv6 was available to the guesser) */
};

/* What user space learned about the running kernel before load, for the programs to adapt to it without
 * CO-RE. Each object has one, as the .rodata variable `facts`; fields an object does not need stay 0. */
struct nt_kernel_facts {
	struct nt_offsets offsets;   /* nettop_nobtf only */
	__u16 retransmit_err_off;    /* offset of `err` in tcp:tcp_retransmit_skb's record (Linux 6.12+), else 0 */
	__u8 recvmsg_flags_arg5;     /* tcp_recvmsg/udp_recvmsg take `nonblock` before `flags` (before 5.19) */
	__u8 _pad[5];
};

#endif
