/* rtnetlink through libmnl: the parts that need C (its callbacks, the nlmsghdr/ifinfomsg/
 * ifaddrmsg/rtmsg/nlattr layouts, the RTNLGRP_* and RTM_* constants). Two uses: link
 * notifications (link.c), and requests that configure interfaces (rtnl.c and the files that
 * build on it). Like wgd_shim.h, this header includes nothing that changes with _GNU_SOURCE;
 * the notification socket is libmnl's opaque struct mnl_socket, which Swift reads and closes
 * through the CMnl module, the request socket our opaque struct wgd_rtnl. */
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

/* ---- Requests: configuring interfaces (router mode) ----
 * A synchronous request socket: each call sends one request and reads until the kernel has
 * answered it (sequence numbers checked), and returns 0, or -1 with errno set to the kernel's
 * refusal (EPERM without CAP_NET_ADMIN, ENODEV for an index that names no link, EEXIST for an
 * address or route already there, EADDRNOTAVAIL/ESRCH for one that is not). One thread at a
 * time: requests on one socket must not interleave. */

struct wgd_rtnl;

/* A NETLINK_ROUTE request socket in the calling thread's network namespace (close-on-exec,
 * blocking). NULL and errno on failure. */
struct wgd_rtnl *wgd_rtnl_open(void);
void wgd_rtnl_close(struct wgd_rtnl *rtnl);

/* An address with its prefix length: an interface address (host bits kept) or a route's
 * destination. `bytes` in network order; the first 4 used for IPv4. */
struct wgd_prefix {
    unsigned char family; /* AF_INET or AF_INET6 */
    unsigned char length;
    unsigned char bytes[16];
};

/* What a link is now. */
struct wgd_link {
    unsigned int index;
    unsigned int mtu;
    unsigned int flags; /* IFF_* (IFF_UP = 1) */
};

/* linkset.c: look a link up by name; set its MTU; set it up (`up` 1) or down (0). */
int wgd_link_get(struct wgd_rtnl *rtnl, const char *name, struct wgd_link *link);
int wgd_link_set_mtu(struct wgd_rtnl *rtnl, unsigned int index, unsigned int mtu);
int wgd_link_set_up(struct wgd_rtnl *rtnl, unsigned int index, int up);

/* address.c: add an address to a link (refused with EEXIST if it has it), remove one, and list
 * a link's IPv4 and IPv6 addresses: `sink` is called once per address with `context`. */
typedef void (*wgd_address_sink)(const struct wgd_prefix *address, void *context);
int wgd_address_add(struct wgd_rtnl *rtnl, unsigned int index, const struct wgd_prefix *address);
int wgd_address_remove(struct wgd_rtnl *rtnl, unsigned int index, const struct wgd_prefix *address);
int wgd_address_dump(struct wgd_rtnl *rtnl, unsigned int index, wgd_address_sink sink, void *context);

/* A route through a link, as a dump reports it. */
struct wgd_route {
    struct wgd_prefix destination;
    unsigned char protocol; /* RTPROT_*: who installed it (2 kernel, 3 boot: ip(8), 4 static) */
};

/* route.c: unicast routes to `destination` straight through the link `index` (no gateway) in
 * routing table `table` (254: main). Add refuses with EEXIST when the table already has a route
 * to that destination (of the same metric, through any link); remove removes only a route of
 * `protocol` through that link (ESRCH if there is none). The dump lists the unicast routes
 * through the link in that table, of every protocol. */
typedef void (*wgd_route_sink)(const struct wgd_route *route, void *context);
int wgd_route_add(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table, const struct wgd_prefix *destination,
                  unsigned char protocol);
int wgd_route_remove(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table,
                     const struct wgd_prefix *destination, unsigned char protocol);
int wgd_route_dump(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table, wgd_route_sink sink, void *context);

#endif
