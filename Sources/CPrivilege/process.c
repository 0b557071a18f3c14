/* The process's identity and flags: thin wrappers over calls Swift cannot make itself (prctl is
 * variadic; the res[ug]id calls are GNU declarations). glibc's setresuid/setresgid change every
 * thread of the process, as POSIX asks, not only the calling one. */
#define _GNU_SOURCE 1
#include "wgd_privilege.h"
#include <sys/prctl.h>
#include <unistd.h>

int wgd_prctl(int option, unsigned long argument) { return prctl(option, argument, 0UL, 0UL, 0UL); }

int wgd_setresuid(uid_t real, uid_t effective, uid_t saved) { return setresuid(real, effective, saved); }
int wgd_setresgid(gid_t real, gid_t effective, gid_t saved) { return setresgid(real, effective, saved); }
int wgd_getresuid(uid_t *real, uid_t *effective, uid_t *saved) { return getresuid(real, effective, saved); }
int wgd_getresgid(gid_t *real, gid_t *effective, gid_t *saved) { return getresgid(real, effective, saved); }
