// Buffer packing for the NSS entry points; see pack.h.
#include "nss/pack.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

namespace dj::nss {
namespace {

constexpr size_t kPtrAlign = alignof(char*);

// Padding that brings `p` up to pointer alignment.
size_t align_pad(const char* p) noexcept {
    auto addr = reinterpret_cast<uintptr_t>(p);
    return (kPtrAlign - addr % kPtrAlign) % kPtrAlign;
}

// Hands out pieces of the caller's buffer; every call checks the space left.
class Arena {
public:
    Arena(char* buf, size_t len) noexcept : p_(buf), left_(buf ? len : 0) {}

    char* str(std::string_view s) noexcept {
        if (s.size() >= left_) return nullptr;  // needs s.size() + 1
        char* dst = p_;
        std::memcpy(dst, s.data(), s.size());
        dst[s.size()] = '\0';
        p_ += s.size() + 1;
        left_ -= s.size() + 1;
        return dst;
    }

    char** ptrs(size_t n) noexcept {
        size_t pad = align_pad(p_);
        if (pad > left_) return nullptr;
        if (n > (left_ - pad) / sizeof(char*)) return nullptr;
        char** dst = reinterpret_cast<char**>(p_ + pad);
        p_ += pad + n * sizeof(char*);
        left_ -= pad + n * sizeof(char*);
        return dst;
    }

private:
    char* p_;
    size_t left_;
};

// One implementation for both record kinds: the owning proto::Passwd /
// proto::Group (enumeration pages, tests) and the in-place views (by-key
// lookups). Both have the same field names.
template <typename Pw>
size_t passwd_size_of(const Pw& p) noexcept {
    return p.name.size() + 1 + 2 + p.gecos.size() + 1 + p.dir.size() + 1 + p.shell.size() + 1;
}

template <typename Gr>
size_t group_size_of(const Gr& g, const char* buf) noexcept {
    size_t n = align_pad(buf) + (g.members.size() + 1) * sizeof(char*);
    n += g.name.size() + 1 + 2;
    for (std::string_view m : g.members) n += m.size() + 1;
    return n;
}

template <typename Pw>
int pack_passwd_of(const Pw& p, struct passwd* out, char* buf, size_t buflen) noexcept {
    Arena a(buf, buflen);
    char* name = a.str(p.name);
    char* pass = name ? a.str("x") : nullptr;
    char* gecos = pass ? a.str(p.gecos) : nullptr;
    char* dir = gecos ? a.str(p.dir) : nullptr;
    char* shell = dir ? a.str(p.shell) : nullptr;
    if (shell == nullptr) return ERANGE;
    out->pw_name = name;
    out->pw_passwd = pass;
    out->pw_uid = p.uid;
    out->pw_gid = p.gid;
    out->pw_gecos = gecos;
    out->pw_dir = dir;
    out->pw_shell = shell;
    return 0;
}

template <typename Gr>
int pack_group_of(const Gr& g, struct group* out, char* buf, size_t buflen) noexcept {
    Arena a(buf, buflen);
    // The pointer array first: only it needs alignment, so padding happens
    // once, at the start.
    const size_t n = g.members.size();
    char** mem = a.ptrs(n + 1);
    if (mem == nullptr) return ERANGE;
    size_t i = 0;
    for (std::string_view m : g.members) {
        mem[i] = a.str(m);
        if (mem[i++] == nullptr) return ERANGE;
    }
    mem[n] = nullptr;
    char* name = a.str(g.name);
    char* pass = name ? a.str("x") : nullptr;
    if (pass == nullptr) return ERANGE;
    out->gr_name = name;
    out->gr_passwd = pass;
    out->gr_gid = g.gid;
    out->gr_mem = mem;
    return 0;
}

}  // namespace

size_t passwd_size(const proto::Passwd& p) noexcept { return passwd_size_of(p); }
size_t passwd_size(const proto::PasswdView& p) noexcept { return passwd_size_of(p); }
size_t group_size(const proto::Group& g, const char* buf) noexcept { return group_size_of(g, buf); }
size_t group_size(const proto::GroupView& g, const char* buf) noexcept { return group_size_of(g, buf); }

int pack_passwd(const proto::Passwd& p, struct passwd* out, char* buf, size_t buflen) noexcept {
    return pack_passwd_of(p, out, buf, buflen);
}
int pack_passwd(const proto::PasswdView& p, struct passwd* out, char* buf, size_t buflen) noexcept {
    return pack_passwd_of(p, out, buf, buflen);
}
int pack_group(const proto::Group& g, struct group* out, char* buf, size_t buflen) noexcept {
    return pack_group_of(g, out, buf, buflen);
}
int pack_group(const proto::GroupView& g, struct group* out, char* buf, size_t buflen) noexcept {
    return pack_group_of(g, out, buf, buflen);
}

int add_gids(const std::vector<uint32_t>& gids, gid_t skip, long int* start, long int* size,
             gid_t** groupsp, long int limit) noexcept {
    for (uint32_t gid32 : gids) {
        const gid_t gid = gid32;
        if (gid == skip) continue;
        if (limit > 0 && *start >= limit) return 0;
        bool dup = false;
        for (long int i = 0; i < *start && !dup; ++i) dup = (*groupsp)[i] == gid;
        if (dup) continue;
        if (*start >= *size) {
            long int want = *size > 0 ? *size * 2 : 16;
            if (want <= *start) want = *start + 1;
            if (limit > 0 && want > limit) want = limit;
            if (static_cast<unsigned long>(want) > std::numeric_limits<size_t>::max() / sizeof(gid_t))
                return ENOMEM;
            auto* grown = static_cast<gid_t*>(std::realloc(*groupsp, size_t(want) * sizeof(gid_t)));
            if (grown == nullptr) return ENOMEM;
            *groupsp = grown;
            *size = want;
        }
        (*groupsp)[(*start)++] = gid;
    }
    return 0;
}

}  // namespace dj::nss
