/* CConntrack: libnetfilter_conntrack for TracerCore/Kernel (the NAT resolver). Wrappers for what Swift
 * cannot import directly are added here, named nt_ct_*, each with the reason it exists. */
#ifndef NETTOP_CCONNTRACK_SHIM_H
#define NETTOP_CCONNTRACK_SHIM_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#endif
