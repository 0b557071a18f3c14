/* Privileges: the process's identity and flags (process.c), capabilities through libcap
 * (caps.c) and the system-call filter through libseccomp (seccomp.c), each behind a few flat
 * calls, so that Swift sees bit masks and an opaque handle, never cap_t or libseccomp's macros.
 * Like wgd_shim.h, this header includes nothing that changes with _GNU_SOURCE: setresuid and
 * friends are GNU declarations, so they are wrapped here. Calls return 0 (or a count) on success,
 * -1 and errno on failure, unless they say otherwise. */
#ifndef WGD_PRIVILEGE_H
#define WGD_PRIVILEGE_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/capability.h> /* CAP_NET_ADMIN and the other numbers, for Swift */
#include <linux/prctl.h>      /* PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, ... */

/* ---- process.c: identity and per-process flags ---------------------------------------------- */

/* prctl(2) is variadic; every option wgd uses takes at most one argument. Returns prctl's result. */
int wgd_prctl(int option, unsigned long argument);
/* setresuid/setresgid/getresuid/getresgid: GNU declarations Swift does not see. */
int wgd_setresuid(uid_t real, uid_t effective, uid_t saved);
int wgd_setresgid(gid_t real, gid_t effective, gid_t saved);
int wgd_getresuid(uid_t *real, uid_t *effective, uid_t *saved);
int wgd_getresgid(gid_t *real, gid_t *effective, gid_t *saved);

/* ---- caps.c: capabilities (libcap) ----------------------------------------------------------- */

/* The calling thread's five capability sets, bit n for capability n (as /proc/self/status prints
 * them). Capabilities are per thread: what one thread sets, the others keep. */
struct wgd_capabilities {
    uint64_t permitted;
    uint64_t effective;
    uint64_t inheritable;
    uint64_t ambient;  /* 0 on kernels without ambient capabilities (before 4.3) */
    uint64_t bounding;
};

/* Reads the sets of the calling thread. */
int wgd_caps_read(struct wgd_capabilities *out);
/* Sets permitted and effective to exactly `keep`, inheritable to nothing (cap_set_proc). */
int wgd_caps_set(uint64_t keep);
/* Empties the ambient set; a kernel without one has nothing to clear (not an error). */
int wgd_caps_clear_ambient(void);
/* Drops every capability but `keep` from the bounding set (needs CAP_SETPCAP): the limit on what
 * this process and its children could ever gain, even by executing a file with capabilities. */
int wgd_caps_limit_bounding(uint64_t keep);

/* ---- seccomp.c: the system-call filter (libseccomp) ------------------------------------------ */

struct wgd_seccomp; /* libseccomp's filter context */

/* A filter that kills the whole process (SIGSYS) on any system call no rule allows, and on any
 * call made through another ABI (e.g. i386's int 0x80 on x86_64), applied to every thread of the
 * process when loaded (TSYNC). Kernels before 4.14 cannot kill a process: there a blocked call
 * traps (SIGSYS, whose default action also ends the whole process). NULL and errno on failure. */
struct wgd_seccomp *wgd_seccomp_new(void);
void wgd_seccomp_free(struct wgd_seccomp *filter);

enum wgd_seccomp_action {
    WGD_SECCOMP_ALLOW = 0,
    WGD_SECCOMP_FAIL = 1, /* the call returns -1 with errno `error` and does nothing */
};

enum wgd_seccomp_compare {
    WGD_SECCOMP_ALWAYS = 0,     /* no condition */
    WGD_SECCOMP_EQUAL = 1,      /* argument == value */
    WGD_SECCOMP_NOT_EQUAL = 2,  /* argument != value */
    WGD_SECCOMP_MASKED = 3,     /* (argument & mask) == value */
};

/* Adds one rule: system call `name` gets `action` when argument number `argument` (0-5)
 * compares with `value` as `compare` says. Rules for the same call add up (any match applies).
 * Returns 0 when added; 1 when the name is a system call of other architectures only (e.g.
 * "open" on aarch64, "clock_gettime64" on 64-bit ones), so one table serves every architecture;
 * -1 and errno ENOENT when no architecture knows the name (a typo), or another errno. */
int wgd_seccomp_rule(struct wgd_seccomp *filter, const char *name, int action, int error, int compare,
                     unsigned int argument, uint64_t mask, uint64_t value);

/* Loads the filter into the kernel for every thread; it cannot be removed, only narrowed by
 * later filters. Needs no_new_privs or CAP_SYS_ADMIN. */
int wgd_seccomp_load(struct wgd_seccomp *filter);

#endif
