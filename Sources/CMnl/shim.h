/* libmnl, the minimal netlink library (netfilter.org): the socket calls wgd's netlink code uses
 * from Swift (mnl_socket_get_fd, mnl_socket_recvfrom, mnl_socket_close). Message parsing, which
 * needs its macros and callbacks, lives in the CNetlink target. */
#include <libmnl/libmnl.h>
