// What every extern "C" entry point of the module shares: the exception
// barrier, the recursion guard, and the mapping of lookup results to
// glibc's nss_status.
#pragma once

#include <nss.h>

#include <cerrno>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "nss/lookup.h"

#define DJ_NSS_EXPORT extern "C" __attribute__((visibility("default")))

namespace dj::nss {

inline enum nss_status set(int* errnop, int err, enum nss_status st) noexcept {
    if (errnop != nullptr) *errnop = err;
    return st;
}

// Runs `fn` (which returns nss_status) unless lookups are disabled or this
// thread is already inside the module; nothing it throws gets out.
template <typename Fn>
enum nss_status guarded(int* errnop, Fn&& fn) noexcept {
    try {
        if (!lookups_enabled()) return set(errnop, ENOENT, NSS_STATUS_UNAVAIL);
        Reentry inside;
        if (!inside.entered()) return set(errnop, ENOENT, NSS_STATUS_UNAVAIL);
        return std::forward<Fn>(fn)();
    } catch (const std::bad_alloc&) {
        return set(errnop, ENOMEM, NSS_STATUS_TRYAGAIN);
    } catch (...) {
        return set(errnop, ENOENT, NSS_STATUS_UNAVAIL);
    }
}

// Result of a failed lookup as nss_status.
inline enum nss_status failed(Result r, int* errnop) noexcept {
    if (r == Result::NotFound) return set(errnop, ENOENT, NSS_STATUS_NOTFOUND);
    return set(errnop, ENOENT, NSS_STATUS_UNAVAIL);
}

// Registers fork handlers for an enumeration mutex so a child never inherits
// it locked (it is only held for short, I/O-free sections).
void register_atfork(std::mutex& mu) noexcept;

// Process-wide enumeration over a paged list (PwList/GrList). Rec is
// proto::Passwd or proto::Group. The mutex guards the cursor and the current
// page only; the daemon is asked without holding it.
template <typename Rec>
class Enumeration {
public:
    using FetchFn = Result (*)(uint32_t after, uint32_t max, std::vector<Rec>&, bool& more);
    using IdFn = uint32_t (*)(const Rec&);

    Enumeration(FetchFn fetch, IdFn id) noexcept : fetch_(fetch), id_(id) { register_atfork(mu_); }

    void reset() {
        std::vector<Rec> old;
        {
            std::lock_guard<std::mutex> lk(mu_);
            old.swap(page_);
            idx_ = 0;
            cursor_ = 0;
            more_ = true;
            ++generation_;
        }
    }

    // Packs the next entry with pack(rec, buf...) -> 0 | ERANGE.
    template <typename Pack>
    enum nss_status next(int* errnop, Pack&& pack) {
        for (;;) {
            uint32_t after;
            uint64_t gen;
            {
                std::lock_guard<std::mutex> lk(mu_);
                if (idx_ < page_.size()) {
                    if (pack(page_[idx_]) != 0) return set(errnop, ERANGE, NSS_STATUS_TRYAGAIN);
                    ++idx_;
                    return NSS_STATUS_SUCCESS;
                }
                if (!more_) return set(errnop, ENOENT, NSS_STATUS_NOTFOUND);
                after = cursor_;
                gen = generation_;
            }
            std::vector<Rec> fresh;
            bool more = false;
            Result r = fetch_(after, kPageSize, fresh, more);
            if (r == Result::Unavailable) return set(errnop, ENOENT, NSS_STATUS_UNAVAIL);
            std::vector<Rec> old;
            std::lock_guard<std::mutex> lk(mu_);
            // Another thread moved on (or restarted) meanwhile: start over.
            if (gen != generation_ || after != cursor_ || idx_ < page_.size()) continue;
            if (r == Result::NotFound) fresh.clear();
            // Ids must grow past the cursor; anything else would loop forever.
            size_t good = 0;
            uint32_t last = after;
            while (good < fresh.size() && id_(fresh[good]) > last) last = id_(fresh[good++]);
            if (good < fresh.size()) {
                fresh.resize(good);
                more = false;
            }
            old.swap(page_);
            page_ = std::move(fresh);
            idx_ = 0;
            cursor_ = last;
            more_ = more && !page_.empty();
        }
    }

private:
    static constexpr uint32_t kPageSize = 256;
    FetchFn fetch_;
    IdFn id_;
    std::mutex mu_;
    std::vector<Rec> page_;
    size_t idx_ = 0;
    uint32_t cursor_ = 0;
    bool more_ = true;
    uint64_t generation_ = 0;
};

}  // namespace dj::nss
