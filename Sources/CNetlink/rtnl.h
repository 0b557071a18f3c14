/* Private to CNetlink: the request machinery address.c, route.c and linkset.c share. Swift sees
 * only wgd_netlink.h. */
#ifndef WGD_RTNL_H
#define WGD_RTNL_H

#include "wgd_netlink.h"
#include <libmnl/libmnl.h>
#include <stdint.h>

/* Room for any request we send: the largest, a route, is 64 bytes; a link name adds 20. */
#define WGD_REQUEST_SIZE 256

/* A request being built, aligned as a netlink header must be. */
union wgd_request {
    struct nlmsghdr header;
    char bytes[WGD_REQUEST_SIZE];
};

/* Starts a request of `type` in `request` (the header only; the caller appends the family's
 * struct with mnl_nlmsg_put_extra_header, then attributes). */
struct nlmsghdr *wgd_rtnl_start(union wgd_request *request, uint16_t type, uint16_t flags);

/* Sends `message` and reads until it is answered: the ack of a change, the reply and ack of a
 * get, or every part of a dump. `on_reply` (may be NULL) sees each reply message. 0 when the
 * kernel accepted it, else -1 and errno (the kernel's error for a refusal). */
int wgd_rtnl_transact(struct wgd_rtnl *rtnl, struct nlmsghdr *message, mnl_cb_t on_reply, void *data);

/* The attributes of one message by type; types past the table are not read (none we use is). */
struct wgd_attributes {
    const struct nlattr *by_type[32];
};

/* Fills `attributes` from the ones after the message's family header of `offset` bytes. 0, or
 * -1 and errno for a malformed message. */
int wgd_rtnl_attributes(const struct nlmsghdr *message, unsigned int offset, struct wgd_attributes *attributes);

/* The families a dump is made for, one dump each: an AF_UNSPEC dump also asks every other
 * family that answers the message type (MCTP addresses, multicast and MPLS routes), any of which
 * may refuse the strict request and fail the whole dump. */
#define WGD_IP_FAMILIES 2
extern const unsigned char wgd_ip_families[WGD_IP_FAMILIES];

/* 4 (IPv4) or 16 (IPv6), 0 for another family. */
unsigned int wgd_address_size(unsigned char family);

/* Reads an address attribute into `prefix->bytes`, its size checked against `prefix->family`:
 * 0, or -1 with errno EBADMSG. */
int wgd_rtnl_read_address(const struct nlattr *attribute, struct wgd_prefix *prefix);

/* The payload of a message that must carry at least `size` bytes of it, else NULL and EBADMSG. */
const void *wgd_rtnl_payload(const struct nlmsghdr *message, size_t size);

#endif
