/* Interface addresses: RTM_NEWADDR, RTM_DELADDR, and the RTM_GETADDR dump of one link's. */
#include "rtnl.h"
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

static struct nlmsghdr *put_address(union wgd_request *request, uint16_t type, uint16_t flags, unsigned int index,
                                    const struct wgd_prefix *address) {
    unsigned int size = wgd_address_size(address->family);
    if (size == 0) {
        errno = EAFNOSUPPORT;
        return NULL;
    }
    struct nlmsghdr *message = wgd_rtnl_start(request, type, flags);
    struct ifaddrmsg *header = mnl_nlmsg_put_extra_header(message, sizeof(*header));
    header->ifa_family = address->family;
    header->ifa_prefixlen = address->length;
    header->ifa_index = index;
    header->ifa_scope = RT_SCOPE_UNIVERSE;
    if (address->family == AF_INET6) {
        /* No duplicate address detection: the address is usable at once instead of tentative for
         * a second or more, and a WireGuard link has no neighbours to collide with. */
        header->ifa_flags = IFA_F_NODAD;
    } else {
        /* IPv4 takes the address itself in IFA_LOCAL; IFA_ADDRESS is the peer's on a
         * point-to-point link, and set to the same address (as ip(8) does) the kernel derives
         * the subnet and its route from it. IPv6 takes IFA_ADDRESS alone. */
        mnl_attr_put(message, IFA_LOCAL, size, address->bytes);
    }
    mnl_attr_put(message, IFA_ADDRESS, size, address->bytes);
    return message;
}

int wgd_address_add(struct wgd_rtnl *rtnl, unsigned int index, const struct wgd_prefix *address) {
    union wgd_request request;
    /* EXCL: an address already there is reported (EEXIST) rather than silently replaced. */
    struct nlmsghdr *message = put_address(&request, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, address);
    return message == NULL ? -1 : wgd_rtnl_transact(rtnl, message, NULL, NULL);
}

int wgd_address_remove(struct wgd_rtnl *rtnl, unsigned int index, const struct wgd_prefix *address) {
    union wgd_request request;
    struct nlmsghdr *message = put_address(&request, RTM_DELADDR, 0, index, address);
    return message == NULL ? -1 : wgd_rtnl_transact(rtnl, message, NULL, NULL);
}

struct address_dump {
    unsigned int index;
    unsigned char family;
    wgd_address_sink sink;
    void *context;
};

static int on_address(const struct nlmsghdr *message, void *data) {
    const struct address_dump *dump = data;
    if (message->nlmsg_type != RTM_NEWADDR) return MNL_CB_OK;
    const struct ifaddrmsg *header = wgd_rtnl_payload(message, sizeof(*header));
    if (header == NULL) return MNL_CB_ERROR;
    /* Kernels before 4.20 send every link's addresses, whatever the request asked. */
    if (header->ifa_index != dump->index || header->ifa_family != dump->family) return MNL_CB_OK;
    struct wgd_attributes attributes;
    if (wgd_rtnl_attributes(message, sizeof(*header), &attributes) < 0) return MNL_CB_ERROR;
    /* The link's own address: IFA_LOCAL where there is one (IPv4, and IPv6 with a peer address),
     * else IFA_ADDRESS. */
    const struct nlattr *local = attributes.by_type[IFA_LOCAL];
    if (local == NULL) local = attributes.by_type[IFA_ADDRESS];
    if (local == NULL) return MNL_CB_OK;
    struct wgd_prefix address = { .family = header->ifa_family, .length = header->ifa_prefixlen };
    if (wgd_rtnl_read_address(local, &address) < 0) return MNL_CB_ERROR;
    dump->sink(&address, dump->context);
    return MNL_CB_OK;
}

int wgd_address_dump(struct wgd_rtnl *rtnl, unsigned int index, wgd_address_sink sink, void *context) {
    for (size_t i = 0; i < WGD_IP_FAMILIES; i++) {
        union wgd_request request;
        struct nlmsghdr *message = wgd_rtnl_start(&request, RTM_GETADDR, NLM_F_DUMP);
        struct ifaddrmsg *header = mnl_nlmsg_put_extra_header(message, sizeof(*header));
        header->ifa_family = wgd_ip_families[i];
        header->ifa_index = index;
        struct address_dump dump = { .index = index, .family = wgd_ip_families[i], .sink = sink, .context = context };
        if (wgd_rtnl_transact(rtnl, message, on_address, &dump) < 0) return -1;
    }
    return 0;
}
