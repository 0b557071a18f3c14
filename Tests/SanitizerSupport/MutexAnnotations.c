// Test-only (swift test --sanitize=thread): tells ThreadSanitizer that Synchronization.Mutex
// synchronizes.
//
// Mutex's fast paths (one compare-and-swap to lock, one to unlock) are inlined into our code, so
// TSan instruments them and sees the acquire and the release. Its slow paths live in
// libswiftSynchronization.so, which is not instrumented: _lockSlow spins on an uninstrumented
// compare-and-swap and then takes the lock with FUTEX_LOCK_PI (the kernel writes the owner into
// the word), _unlockSlow hands it over with FUTEX_UNLOCK_PI. Whenever a lock passes between
// threads under contention, TSan sees no happens-before edge, and every access the lock guards
// is reported as a race: a false positive (a two-thread counter under Mutex shows it; the same
// program with an unguarded access still reports that one).
//
// These definitions interpose on the two slow paths (the test executable comes first in symbol
// lookup), call the library's own, and tell TSan what they did: a release on the lock word
// before the unlock, an acquire after the lock. The word is `self` (swiftself, r13 on x86_64),
// which clang spells as a swift_context parameter of a swiftcall function. The names are the
// Swift 6 stdlib's mangled names; if a toolchain lacks them, this aborts rather than guess.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFT SWIFTCALL __attribute__((visibility("default")))
#define SELF __attribute__((swift_context))

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFTCALL void (*LockSlow)(uint32_t, SELF void *);
typedef SWIFTCALL _Bool (*TryLockSlow)(SELF void *);
typedef SWIFTCALL void (*UnlockSlow)(SELF void *);

static void *library(const char *name, void **cache) {
    void *function = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (function) return function;
    function = dlsym(RTLD_NEXT, name);
    if (!function) {
        fprintf(stderr, "SanitizerSupport: %s is not in this Swift runtime\n", name);
        abort();
    }
    __atomic_store_n(cache, function, __ATOMIC_RELEASE);
    return function;
}

SWIFT void wgd_lock_slow(uint32_t owner, SELF void *word) __asm__(LOCK_SLOW);
SWIFT void wgd_lock_slow(uint32_t owner, SELF void *word) {
    static void *cache;
    ((LockSlow)library(LOCK_SLOW, &cache))(owner, word);
    __tsan_acquire(word);
}

SWIFT _Bool wgd_try_lock_slow(SELF void *word) __asm__(TRY_LOCK_SLOW);
SWIFT _Bool wgd_try_lock_slow(SELF void *word) {
    static void *cache;
    _Bool locked = ((TryLockSlow)library(TRY_LOCK_SLOW, &cache))(word);
    if (locked) __tsan_acquire(word);
    return locked;
}

SWIFT void wgd_unlock_slow(SELF void *word) __asm__(UNLOCK_SLOW);
SWIFT void wgd_unlock_slow(SELF void *word) {
    static void *cache;
    __tsan_release(word);
    ((UnlockSlow)library(UNLOCK_SLOW, &cache))(word);
}
#endif
#endif
