/* The system-call filter through libseccomp. The policy (which calls, why) lives in Swift
 * (DataPlaneFilter); this file only turns one rule at a time into libseccomp's terms. */
#include "wgd_privilege.h"
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>

struct wgd_seccomp *wgd_seccomp_new(void) {
    /* SCMP_ACT_KILL_PROCESS needs kernel 4.14 (API level 3); before it, a trap does the same
     * unless SIGSYS is handled, and nothing in wgd handles it. */
    uint32_t kill = seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP;
    scmp_filter_ctx ctx = seccomp_init(kill);
    if (!ctx) {
        errno = ENOMEM;
        return NULL;
    }
    /* Calls through a foreign ABI match no rule of ours: kill those too (libseccomp's default
     * would kill the thread only). TSYNC: the filter covers threads that already exist. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill);
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc != 0) {
        seccomp_release(ctx);
        errno = -rc;
        return NULL;
    }
    return (struct wgd_seccomp *)ctx;
}

void wgd_seccomp_free(struct wgd_seccomp *filter) { seccomp_release((scmp_filter_ctx)filter); }

int wgd_seccomp_rule(struct wgd_seccomp *filter, const char *name, int action, int error, int compare,
                     unsigned int argument, uint64_t mask, uint64_t value) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
        errno = ENOENT;
        return -1;
    }
    uint32_t verdict = action == WGD_SECCOMP_FAIL ? SCMP_ACT_ERRNO((uint32_t)error) : SCMP_ACT_ALLOW;
    struct scmp_arg_cmp condition = {.arg = argument, .datum_a = value};
    switch (compare) {
    case WGD_SECCOMP_EQUAL: condition.op = SCMP_CMP_EQ; break;
    case WGD_SECCOMP_NOT_EQUAL: condition.op = SCMP_CMP_NE; break;
    case WGD_SECCOMP_MASKED:
        condition.op = SCMP_CMP_MASKED_EQ;
        condition.datum_a = mask;
        condition.datum_b = value;
        break;
    default: break;
    }
    /* A negative number is libseccomp's name for a call this architecture lacks: the rule is
     * dropped quietly (seccomp_rule_add, unlike the _exact variant, allows that). */
    int rc = compare == WGD_SECCOMP_ALWAYS ? seccomp_rule_add((scmp_filter_ctx)filter, verdict, nr, 0)
                                           : seccomp_rule_add((scmp_filter_ctx)filter, verdict, nr, 1, condition);
    if (rc != 0) {
        errno = -rc;
        return -1;
    }
    return nr < 0 ? 1 : 0;
}

int wgd_seccomp_load(struct wgd_seccomp *filter) {
    int rc = seccomp_load((scmp_filter_ctx)filter);
    if (rc != 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}
