/* The synchronous rtnetlink request: send one message, read until the kernel has answered it.
 * address.c, route.c and linkset.c build the messages; see rtnl.h. */
#include "rtnl.h"
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A dump's datagrams are as large as the reads we make, capped by the kernel at 32 KiB: a buffer
 * that size never sees one truncated. */
#define RECEIVE_SIZE 32768

struct wgd_rtnl {
    struct mnl_socket *socket;
    unsigned int portid;
    unsigned int sequence;
    char buffer[RECEIVE_SIZE];
};

struct wgd_rtnl *wgd_rtnl_open(void) {
    struct wgd_rtnl *rtnl = calloc(1, sizeof(*rtnl));
    if (rtnl == NULL) return NULL;
    rtnl->socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (rtnl->socket == NULL || mnl_socket_bind(rtnl->socket, 0, MNL_SOCKET_AUTOPID) < 0) {
        int saved = errno;
        wgd_rtnl_close(rtnl);
        errno = saved;
        return NULL;
    }
    rtnl->portid = mnl_socket_get_portid(rtnl->socket);
    /* Asks the kernel (4.20 and later) to filter dumps by link and table itself, instead of
     * sending every address and route of the namespace; the parsers filter again for older
     * kernels, which refuse the option (ignored). */
    int on = 1;
    (void)mnl_socket_setsockopt(rtnl->socket, NETLINK_GET_STRICT_CHK, &on, sizeof(on));
    return rtnl;
}

void wgd_rtnl_close(struct wgd_rtnl *rtnl) {
    if (rtnl == NULL) return;
    if (rtnl->socket != NULL) mnl_socket_close(rtnl->socket);
    free(rtnl);
}

struct nlmsghdr *wgd_rtnl_start(union wgd_request *request, uint16_t type, uint16_t flags) {
    struct nlmsghdr *message = mnl_nlmsg_put_header(request->bytes);
    message->nlmsg_type = type;
    message->nlmsg_flags = NLM_F_REQUEST | flags;
    return message;
}

/* libmnl (1.0.4) runs no default handler for a control message whose slot in our array is
 * empty, so both ends of a reply are handled here: NLMSG_ERROR, whose 0 is the ack and anything
 * else the refusal, and NLMSG_DONE, below. */
static int on_error(const struct nlmsghdr *message, void *data) {
    (void)data;
    const struct nlmsgerr *error = wgd_rtnl_payload(message, sizeof(*error));
    if (error == NULL) return MNL_CB_ERROR;
    if (error->error == 0) return MNL_CB_STOP;
    errno = error->error < 0 ? -error->error : error->error;
    return MNL_CB_ERROR;
}

/* A dump that fails part-way says so in its NLMSG_DONE (an int, negative errno), which libmnl's
 * default handler ignores. */
static int on_done(const struct nlmsghdr *message, void *data) {
    (void)data;
    if (mnl_nlmsg_get_payload_len(message) >= sizeof(int)) {
        int error = *(const int *)mnl_nlmsg_get_payload(message);
        if (error < 0) {
            errno = -error;
            return MNL_CB_ERROR;
        }
    }
    return MNL_CB_STOP;
}

/* The kernel sends each reply in datagrams of its own. One that answers an earlier sequence
 * number is the rest of a request we stopped reading (a malformed reply ended it): skipped, not
 * taken for this one's answer or for an error. */
static int is_stale(const void *buffer, ssize_t length, unsigned int sequence) {
    const struct nlmsghdr *first = buffer;
    return length >= (ssize_t)sizeof(*first) && first->nlmsg_seq != sequence;
}

int wgd_rtnl_transact(struct wgd_rtnl *rtnl, struct nlmsghdr *message, mnl_cb_t on_reply, void *data) {
    /* 0 would switch libmnl's sequence check off. */
    if (++rtnl->sequence == 0) rtnl->sequence = 1;
    message->nlmsg_seq = rtnl->sequence;
    /* A dump ends with NLMSG_DONE; anything else must be acked, or a change that succeeds would
     * leave us waiting for a reply that never comes. */
    if ((message->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) message->nlmsg_flags |= NLM_F_ACK;

    ssize_t sent;
    do sent = mnl_socket_sendto(rtnl->socket, message, message->nlmsg_len);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) return -1;

    mnl_cb_t control[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_error, [NLMSG_DONE] = on_done };
    for (;;) {
        ssize_t length = mnl_socket_recvfrom(rtnl->socket, rtnl->buffer, sizeof(rtnl->buffer));
        if (length < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (is_stale(rtnl->buffer, length, rtnl->sequence)) continue;
        /* Checks sequence and port id. */
        int result = mnl_cb_run2(rtnl->buffer, (size_t)length, rtnl->sequence, rtnl->portid, on_reply, data, control,
                                 NLMSG_MIN_TYPE);
        if (result == MNL_CB_ERROR) return -1;
        if (result == MNL_CB_STOP) return 0;
    }
}

static int on_attribute(const struct nlattr *attribute, void *data) {
    struct wgd_attributes *attributes = data;
    uint16_t type = mnl_attr_get_type(attribute);
    if (type < sizeof(attributes->by_type) / sizeof(attributes->by_type[0])) attributes->by_type[type] = attribute;
    return MNL_CB_OK;
}

int wgd_rtnl_attributes(const struct nlmsghdr *message, unsigned int offset, struct wgd_attributes *attributes) {
    *attributes = (struct wgd_attributes){ 0 };
    return mnl_attr_parse(message, offset, on_attribute, attributes) < 0 ? -1 : 0;
}

const unsigned char wgd_ip_families[WGD_IP_FAMILIES] = { AF_INET, AF_INET6 };

unsigned int wgd_address_size(unsigned char family) {
    switch (family) {
    case AF_INET: return 4;
    case AF_INET6: return 16;
    default: return 0;
    }
}

int wgd_rtnl_read_address(const struct nlattr *attribute, struct wgd_prefix *prefix) {
    unsigned int size = wgd_address_size(prefix->family);
    if (size == 0 || mnl_attr_get_payload_len(attribute) != size) {
        errno = EBADMSG;
        return -1;
    }
    memcpy(prefix->bytes, mnl_attr_get_payload(attribute), size);
    return 0;
}

const void *wgd_rtnl_payload(const struct nlmsghdr *message, size_t size) {
    if (mnl_nlmsg_get_payload_len(message) < size) {
        errno = EBADMSG;
        return NULL;
    }
    return mnl_nlmsg_get_payload(message);
}
