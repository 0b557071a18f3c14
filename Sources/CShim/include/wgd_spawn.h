/* Starting router mode's data plane: the same binary, as a child process. */
#ifndef WGD_SPAWN_H
#define WGD_SPAWN_H

#include <sys/types.h>

/* posix_spawn of /proc/self/exe with `argv` (NULL-terminated) and an empty environment. The child
 * gets `channel` as descriptor 3 and no other descriptor but 0-2 (closefrom is a GNU file action),
 * an empty signal mask and default dispositions: the supervisor blocks the stop signals in every
 * thread for sigwait, and a mask survives exec. Returns 0 and the child's PID, or an errno. */
int wgd_spawn_self(const char *const argv[], int channel, pid_t *pid);

#endif
