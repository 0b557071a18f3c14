/* Link notifications from the kernel (rtnetlink), through libmnl: the parts that need C (its
 * callbacks, nlmsghdr/ifinfomsg/nlattr layouts, the RTNLGRP_LINK constant). Like wgd_shim.h, this
 * header includes nothing that changes with _GNU_SOURCE; the socket itself is libmnl's opaque
 * struct mnl_socket, which Swift reads and closes through the CMnl module. */
#ifndef WGD_NETLINK_H
#define WGD_NETLINK_H

#include <stddef.h>

struct mnl_socket;

/* A NETLINK_ROUTE socket (close-on-exec, non-blocking) subscribed to RTNLGRP_LINK: a message for
 * every link created, changed or deleted in the caller's network namespace. NULL and errno on
 * failure. Close it with mnl_socket_close. */
struct mnl_socket *wgd_link_subscribe(void);

/* What the messages read said about one interface (bits). */
enum {
    WGD_LINK_DELETED = 1, /* an RTM_DELLINK for it */
    WGD_LINK_MOVED = 2,   /* that RTM_DELLINK carried IFLA_NEW_NETNSID: the link went to another
                             namespace (`ip link set IF netns NS`) and lives on there */
};

/* Scans `length` bytes read from the socket (one or more netlink messages) for news of the
 * interface with index `ifindex`: WGD_LINK_* bits, 0 for none, or -1 and errno for a malformed
 * buffer. */
int wgd_link_scan(const void *buffer, size_t length, int ifindex);

#endif
