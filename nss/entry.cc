// Shared pieces of the entry points (see entry.h).
#include "nss/entry.h"

#include <pthread.h>

namespace dj::nss {

// Enumeration mutexes, locked around fork() so that a child never starts with
// one held by a thread that does not exist in it.
namespace {
constexpr int kMaxForkMutexes = 4;
std::mutex* g_fork_mutexes[kMaxForkMutexes];
int g_fork_count = 0;
std::once_flag g_fork_once;
// Guards the table: held by register_atfork while it adds a mutex, and by the
// fork handlers from prepare to release, so a fork in one thread never reads
// the table while another thread registers (ThreadSanitizer saw that race).
std::mutex g_fork_table;

void fork_prepare() {
    g_fork_table.lock();
    for (int i = 0; i < g_fork_count; ++i) g_fork_mutexes[i]->lock();
}
void fork_release() {
    for (int i = g_fork_count - 1; i >= 0; --i) g_fork_mutexes[i]->unlock();
    g_fork_table.unlock();
}
}  // namespace

void register_atfork(std::mutex& mu) noexcept {
    // Called from the function-local statics' constructors. pthread_atfork
    // runs outside g_fork_table: a concurrent fork holds libc's atfork lock
    // while its prepare handler waits for g_fork_table.
    try {
        std::call_once(g_fork_once, [] { ::pthread_atfork(fork_prepare, fork_release, fork_release); });
        std::lock_guard<std::mutex> lk(g_fork_table);
        if (g_fork_count < kMaxForkMutexes) g_fork_mutexes[g_fork_count++] = &mu;
    } catch (...) {
    }
}

}  // namespace dj::nss

