/* CConntrack: libnetfilter_conntrack for TracerCore/Kernel (the NAT resolver). Wrappers for what Swift
 * cannot import directly are added here, named nt_ct_*, each with the reason it exists. */
#ifndef NETTOP_CCONNTRACK_SHIM_H
#define NETTOP_CCONNTRACK_SHIM_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

/* CONNTRACK and NFCT_ALL_CT_GROUPS are macros built from other macros (and an OR of them): Swift imports
 * neither. The subsystem to open, and the multicast groups of the event stream (NEW, UPDATE, DESTROY). */
static inline uint8_t nt_ct_subsys_conntrack(void) { return CONNTRACK; }
static inline unsigned nt_ct_all_groups(void) { return NFCT_ALL_CT_GROUPS; }

#endif
