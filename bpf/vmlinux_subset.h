/* The few kernel types nettop's BPF programs read, marked preserve_access_index so that libbpf relocates
 * every field access against the running kernel's BTF (CO-RE). Only the fields used are declared; their
 * order and the struct sizes here do not matter, names and types do. Reviewable, and builds in a fraction
 * of the time of a full vmlinux.h. */
#ifndef __VMLINUX_SUBSET_H
#define __VMLINUX_SUBSET_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	__s64 counter;
} atomic64_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	unsigned long skc_flags;
	atomic64_t skc_cookie; /* set once bpf_get_socket_cookie() (or sock_diag) asked for it */
};

struct sock {
	struct sock_common __sk_common;
	__u8 sk_userlocks;
	__u16 sk_protocol;
	__u16 sk_type;
};

struct msghdr; /* only passed on (its first member, msg_name, is read at offset 0) */

struct sk_buff {
	char cb[48];
};

struct tcp_skb_cb {
	__u32 seq;
	__u32 end_seq;
	__u16 tcp_gso_segs;
};

#pragma clang attribute pop

#include "nettop_constants.h"

#endif
