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

void fork_prepare() {
    for (int i = 0; i < g_fork_count; ++i) g_fork_mutexes[i]->lock();
}
void fork_release() {
    for (int i = g_fork_count - 1; i >= 0; --i) g_fork_mutexes[i]->unlock();
}
}  // namespace

void register_atfork(std::mutex& mu) noexcept {
    // Called from the function-local statics' constructors (serialized by
    // the C++ runtime's guard for each; the count is read under the fork
    // handlers only after registration completed).
    static std::mutex reg;
    try {
        std::lock_guard<std::mutex> lk(reg);
        std::call_once(g_fork_once, [] { ::pthread_atfork(fork_prepare, fork_release, fork_release); });
        if (g_fork_count < kMaxForkMutexes) g_fork_mutexes[g_fork_count++] = &mu;
    } catch (...) {
    }
}

}  // namespace dj::nss

