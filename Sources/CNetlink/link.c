/* Link notifications through libmnl; see wgd_netlink.h. Thin on purpose: subscribe, and find the
 * RTM_DELLINK messages about one interface. Deciding what they mean is the Swift side's job
 * (Supervisor's LinkMonitor). */
#include "wgd_netlink.h"
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

struct mnl_socket *wgd_link_subscribe(void) {
    struct mnl_socket *socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (socket == NULL) return NULL;
    /* The bind groups are a bit mask of the legacy groups: RTNLGRP_LINK's bit. */
    if (mnl_socket_bind(socket, 1u << (RTNLGRP_LINK - 1), MNL_SOCKET_AUTOPID) < 0) {
        int saved = errno;
        mnl_socket_close(socket);
        errno = saved;
        return NULL;
    }
    return socket;
}

struct scan {
    int ifindex;
    int found;
};

static int on_attribute(const struct nlattr *attribute, void *data) {
    struct scan *scan = data;
    /* A move says where the link went; a deletion proper has no such attribute. */
    if (mnl_attr_get_type(attribute) == IFLA_NEW_NETNSID) scan->found |= WGD_LINK_MOVED;
    return MNL_CB_OK;
}

static int on_message(const struct nlmsghdr *message, void *data) {
    struct scan *scan = data;
    if (message->nlmsg_type != RTM_DELLINK) return MNL_CB_OK;
    if (mnl_nlmsg_get_payload_len(message) < sizeof(struct ifinfomsg)) {
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    const struct ifinfomsg *info = mnl_nlmsg_get_payload(message);
    if (info->ifi_index != scan->ifindex) return MNL_CB_OK;
    scan->found |= WGD_LINK_DELETED;
    return mnl_attr_parse(message, sizeof(*info), on_attribute, scan) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int wgd_link_scan(const void *buffer, size_t length, int ifindex) {
    struct scan scan = { .ifindex = ifindex, .found = 0 };
    /* Sequence number and port id 0: notifications answer no request of ours. */
    if (mnl_cb_run(buffer, length, 0, 0, on_message, &scan) < 0) return -1;
    return scan.found;
}
