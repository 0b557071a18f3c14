/* Capabilities through libcap, as bit masks: Swift never holds a cap_t. libcap's cap_set_proc
 * (without libpsx) changes the calling thread only, so callers run these while the process has
 * one thread. */
#include "wgd_privilege.h"
#include <errno.h>
#include <string.h>
#include <sys/capability.h>

/* The capabilities this kernel knows (CAP_LAST_CAP + 1), at most the 64 a mask holds. */
static cap_value_t known(void) {
    cap_value_t n = cap_max_bits();
    return n > 64 ? 64 : n;
}

static uint64_t bit(cap_value_t cap) { return (uint64_t)1 << cap; }

static int is_set(cap_t caps, cap_value_t cap, cap_flag_t flag) {
    cap_flag_value_t value = CAP_CLEAR;
    return cap_get_flag(caps, cap, flag, &value) == 0 && value == CAP_SET;
}

int wgd_caps_read(struct wgd_capabilities *out) {
    cap_t caps = cap_get_proc();
    if (!caps) return -1;
    memset(out, 0, sizeof(*out));
    for (cap_value_t cap = 0; cap < known(); cap++) {
        if (is_set(caps, cap, CAP_PERMITTED)) out->permitted |= bit(cap);
        if (is_set(caps, cap, CAP_EFFECTIVE)) out->effective |= bit(cap);
        if (is_set(caps, cap, CAP_INHERITABLE)) out->inheritable |= bit(cap);
        if (cap_get_ambient(cap) > 0) out->ambient |= bit(cap); /* -1: no ambient set here */
        if (cap_get_bound(cap) > 0) out->bounding |= bit(cap);
    }
    cap_free(caps);
    return 0;
}

int wgd_caps_set(uint64_t keep) {
    cap_t caps = cap_init(); /* every flag clear: inheritable stays empty */
    if (!caps) return -1;
    int rc = 0;
    for (cap_value_t cap = 0; cap < 64 && rc == 0; cap++) {
        if (!(keep & bit(cap))) continue;
        rc = cap_set_flag(caps, CAP_PERMITTED, 1, &cap, CAP_SET) | cap_set_flag(caps, CAP_EFFECTIVE, 1, &cap, CAP_SET);
    }
    if (rc == 0) rc = cap_set_proc(caps);
    int saved = errno;
    cap_free(caps);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

int wgd_caps_clear_ambient(void) {
    if (cap_get_ambient(CAP_CHOWN) < 0) return 0; /* no ambient set on this kernel: nothing to clear */
    return cap_reset_ambient();
}

int wgd_caps_limit_bounding(uint64_t keep) {
    for (cap_value_t cap = 0; cap < known(); cap++) {
        if (keep & bit(cap) || cap_get_bound(cap) <= 0) continue;
        if (cap_drop_bound(cap) != 0) return -1;
    }
    return 0;
}
