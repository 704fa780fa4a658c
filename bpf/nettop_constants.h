/* Kernel constants nettop's BPF programs use (stable ABI values), for the CO-RE and the no-BTF object. */
#ifndef NETTOP_CONSTANTS_H
#define NETTOP_CONSTANTS_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define MSG_PEEK 2
#define SOCK_BINDPORT_LOCK 8
#define SOCK_DEAD 0 /* bit in skc_flags */
#define EEXIST 17

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_FIN_WAIT1 = 4,
	TCP_CLOSE = 7,
	TCP_LISTEN = 10,
};

#endif
