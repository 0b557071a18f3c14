#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include "wgd_spawn.h"

int wgd_spawn_self(const char *const argv[], int channel, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t none, defaults;
    char *const environment[] = {NULL};
    int error;

    /* dup2 onto itself would keep the descriptor's close-on-exec flag. */
    if (channel == 3) return EINVAL;
    if ((error = posix_spawn_file_actions_init(&actions))) return error;
    if ((error = posix_spawnattr_init(&attributes))) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGPIPE);
    if (!(error = posix_spawn_file_actions_adddup2(&actions, channel, 3)) &&
        !(error = posix_spawn_file_actions_addclosefrom_np(&actions, 4)) &&
        !(error = posix_spawnattr_setsigmask(&attributes, &none)) &&
        !(error = posix_spawnattr_setsigdefault(&attributes, &defaults)) &&
        !(error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)))
        error = posix_spawn(pid, "/proc/self/exe", &actions, &attributes, (char *const *)argv, environment);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}
