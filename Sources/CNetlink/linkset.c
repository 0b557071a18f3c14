/* A link's MTU and up state: RTM_GETLINK by name, RTM_SETLINK. Creating and deleting links is
 * the TUN's business (DataPlane), not this file's. */
#include "rtnl.h"
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

static struct ifinfomsg *put_link(struct nlmsghdr *message, unsigned int index) {
    struct ifinfomsg *header = mnl_nlmsg_put_extra_header(message, sizeof(*header));
    header->ifi_family = AF_UNSPEC;
    header->ifi_index = (int)index;
    return header;
}

static int on_link(const struct nlmsghdr *message, void *data) {
    struct wgd_link *link = data;
    if (message->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
    const struct ifinfomsg *header = wgd_rtnl_payload(message, sizeof(*header));
    if (header == NULL) return MNL_CB_ERROR;
    struct wgd_attributes attributes;
    if (wgd_rtnl_attributes(message, sizeof(*header), &attributes) < 0) return MNL_CB_ERROR;
    const struct nlattr *mtu = attributes.by_type[IFLA_MTU];
    if (mtu == NULL || mnl_attr_validate(mtu, MNL_TYPE_U32) < 0) {
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    *link = (struct wgd_link){ .index = (unsigned int)header->ifi_index, .mtu = mnl_attr_get_u32(mtu),
                               .flags = header->ifi_flags };
    return MNL_CB_OK;
}

int wgd_link_get(struct wgd_rtnl *rtnl, const char *name, struct wgd_link *link) {
    union wgd_request request;
    struct nlmsghdr *message = wgd_rtnl_start(&request, RTM_GETLINK, 0);
    put_link(message, 0);
    /* The kernel refuses a name past IFNAMSIZ itself; the check keeps it inside our buffer. */
    if (!mnl_attr_put_strz_check(message, sizeof(request), IFLA_IFNAME, name)) {
        errno = EINVAL;
        return -1;
    }
    /* Statistics are most of a link's reply and we read none of them. */
    mnl_attr_put_u32(message, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    *link = (struct wgd_link){ 0 };
    if (wgd_rtnl_transact(rtnl, message, on_link, link) < 0) return -1;
    if (link->index == 0) {  /* acked without a reply: never seen, but not a link either */
        errno = ENODEV;
        return -1;
    }
    return 0;
}

int wgd_link_set_mtu(struct wgd_rtnl *rtnl, unsigned int index, unsigned int mtu) {
    union wgd_request request;
    struct nlmsghdr *message = wgd_rtnl_start(&request, RTM_SETLINK, 0);
    put_link(message, index);
    mnl_attr_put_u32(message, IFLA_MTU, mtu);
    return wgd_rtnl_transact(rtnl, message, NULL, NULL);
}

int wgd_link_set_up(struct wgd_rtnl *rtnl, unsigned int index, int up) {
    union wgd_request request;
    struct nlmsghdr *message = wgd_rtnl_start(&request, RTM_SETLINK, 0);
    struct ifinfomsg *header = put_link(message, index);
    /* ifi_change says which flags to change: IFF_UP alone, the others stay as they are. */
    header->ifi_change = IFF_UP;
    header->ifi_flags = up ? IFF_UP : 0;
    return wgd_rtnl_transact(rtnl, message, NULL, NULL);
}
