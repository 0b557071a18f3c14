/* Routes straight through a link: RTM_NEWROUTE, RTM_DELROUTE, and the RTM_GETROUTE dump of one
 * link's routes in one table. */
#include "rtnl.h"
#include <errno.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

static struct nlmsghdr *put_route(union wgd_request *request, uint16_t type, uint16_t flags, unsigned int index,
                                  unsigned int table, const struct wgd_prefix *destination, unsigned char protocol,
                                  unsigned char scope) {
    unsigned int size = wgd_address_size(destination->family);
    if (size == 0) {
        errno = EAFNOSUPPORT;
        return NULL;
    }
    struct nlmsghdr *message = wgd_rtnl_start(request, type, flags);
    struct rtmsg *header = mnl_nlmsg_put_extra_header(message, sizeof(*header));
    header->rtm_family = destination->family;
    header->rtm_dst_len = destination->length;
    /* Tables past 255 exist only in RTA_TABLE; the kernel reads that when it is there. */
    header->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
    header->rtm_protocol = protocol;
    header->rtm_scope = scope;
    header->rtm_type = RTN_UNICAST;
    mnl_attr_put(message, RTA_DST, size, destination->bytes);
    mnl_attr_put_u32(message, RTA_OIF, index);
    mnl_attr_put_u32(message, RTA_TABLE, table);
    return message;
}

int wgd_route_add(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table, const struct wgd_prefix *destination,
                  unsigned char protocol) {
    union wgd_request request;
    /* Scope link: the destination is on the link itself, with no gateway (`ip route add P dev
     * IF`). EXCL: a route to the destination that is already there, ours or another link's, is
     * reported (EEXIST) instead of replaced. */
    struct nlmsghdr *message = put_route(&request, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, index, table, destination,
                                         protocol, RT_SCOPE_LINK);
    return message == NULL ? -1 : wgd_rtnl_transact(rtnl, message, NULL, NULL);
}

int wgd_route_remove(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table,
                     const struct wgd_prefix *destination, unsigned char protocol) {
    union wgd_request request;
    /* The kernel deletes the first route that matches every field given: the protocol (never
     * another's route), the link, and scope "nowhere", which IPv4 reads as any scope. */
    struct nlmsghdr *message =
        put_route(&request, RTM_DELROUTE, 0, index, table, destination, protocol, RT_SCOPE_NOWHERE);
    return message == NULL ? -1 : wgd_rtnl_transact(rtnl, message, NULL, NULL);
}

struct route_dump {
    unsigned int index;
    unsigned int table;
    unsigned char family;
    wgd_route_sink sink;
    void *context;
};

static int on_route(const struct nlmsghdr *message, void *data) {
    const struct route_dump *dump = data;
    if (message->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
    const struct rtmsg *header = wgd_rtnl_payload(message, sizeof(*header));
    if (header == NULL) return MNL_CB_ERROR;
    /* Local, broadcast, blackhole and the like are not routes through a link to a peer. */
    if (header->rtm_family != dump->family || header->rtm_type != RTN_UNICAST) return MNL_CB_OK;
    struct wgd_attributes attributes;
    if (wgd_rtnl_attributes(message, sizeof(*header), &attributes) < 0) return MNL_CB_ERROR;
    /* Kernels before 4.20 send every route of the family, whatever the request asked; a
     * multipath route has no RTA_OIF and is not one of ours. */
    const struct nlattr *oif = attributes.by_type[RTA_OIF];
    const struct nlattr *table = attributes.by_type[RTA_TABLE];
    if (oif == NULL || mnl_attr_validate(oif, MNL_TYPE_U32) < 0 || mnl_attr_get_u32(oif) != dump->index)
        return MNL_CB_OK;
    if (table != NULL && mnl_attr_validate(table, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
    if ((table != NULL ? mnl_attr_get_u32(table) : header->rtm_table) != dump->table) return MNL_CB_OK;
    /* No RTA_DST: the default route, all zeros. */
    struct wgd_route route = {
        .destination = { .family = header->rtm_family, .length = header->rtm_dst_len },
        .protocol = header->rtm_protocol,
    };
    const struct nlattr *destination = attributes.by_type[RTA_DST];
    if (destination != NULL && wgd_rtnl_read_address(destination, &route.destination) < 0) return MNL_CB_ERROR;
    dump->sink(&route, dump->context);
    return MNL_CB_OK;
}

int wgd_route_dump(struct wgd_rtnl *rtnl, unsigned int index, unsigned int table, wgd_route_sink sink, void *context) {
    for (size_t i = 0; i < WGD_IP_FAMILIES; i++) {
        union wgd_request request;
        struct nlmsghdr *message = wgd_rtnl_start(&request, RTM_GETROUTE, NLM_F_DUMP);
        struct rtmsg *header = mnl_nlmsg_put_extra_header(message, sizeof(*header));
        header->rtm_family = wgd_ip_families[i];
        /* The filters a strict dump takes (4.20 and later); the parser applies them again. */
        mnl_attr_put_u32(message, RTA_OIF, index);
        mnl_attr_put_u32(message, RTA_TABLE, table);
        struct route_dump dump = {
            .index = index, .table = table, .family = wgd_ip_families[i], .sink = sink, .context = context
        };
        if (wgd_rtnl_transact(rtnl, message, on_route, &dump) < 0) return -1;
    }
    return 0;
}
