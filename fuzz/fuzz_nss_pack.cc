// Fuzz target: NSS buffer packing (nss/pack.cc). Builds a passwd or group
// record from the input and packs it into buffers of every size around the
// one needed, at every alignment: a small buffer must give ERANGE and touch
// nothing past its end; a big enough one must give back the record intact.
#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "nss/pack.h"

using namespace dj;

namespace {

struct Input {
    const uint8_t* p;
    size_t n;
    uint8_t byte() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    std::string str() {
        size_t len = byte() % 48;
        if (len > n) len = n;
        std::string s;
        for (size_t i = 0; i < len; ++i) {
            char c = static_cast<char>(*p++);
            s.push_back(c == '\0' ? 'x' : c);   // the protocol carries no NUL
        }
        n -= len;
        return s;
    }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
        return v;
    }
};

void check_pw(const proto::Passwd& p, size_t align) {
    size_t need = nss::passwd_size(p);
    for (size_t len = (need > 3 ? need - 3 : 0); len <= need + 1; ++len) {
        std::vector<char> mem(len + align + 1);
        char* buf = mem.data() + align;
        struct passwd pw;
        std::memset(&pw, 0, sizeof pw);
        int rc = nss::pack_passwd(p, &pw, buf, len);
        if (len < need) {
            if (rc != ERANGE) abort();
            continue;
        }
        if (rc != 0) abort();
        if (p.name != pw.pw_name || p.gecos != pw.pw_gecos || p.dir != pw.pw_dir || p.shell != pw.pw_shell ||
            std::strcmp(pw.pw_passwd, "x") != 0 || pw.pw_uid != p.uid || pw.pw_gid != p.gid)
            abort();
        for (char* s : {pw.pw_name, pw.pw_passwd, pw.pw_gecos, pw.pw_dir, pw.pw_shell})
            if (s < buf || s >= buf + len) abort();
    }
}

void check_gr(const proto::Group& g, size_t align) {
    std::vector<char> probe(align + 1);
    size_t need = nss::group_size(g, probe.data() + align);
    if (need > 1 << 20) abort();
    for (size_t len = (need > 9 ? need - 9 : 0); len <= need + 1; ++len) {
        std::vector<char> mem(len + 16);
        // group_size depends on the buffer's address: ask again for this one.
        char* buf = mem.data() + align;
        size_t here = nss::group_size(g, buf);
        struct group gr;
        std::memset(&gr, 0, sizeof gr);
        int rc = nss::pack_group(g, &gr, buf, len);
        if (len < here) {
            if (rc != ERANGE) abort();
            continue;
        }
        if (rc != 0) abort();
        if (g.name != gr.gr_name || std::strcmp(gr.gr_passwd, "x") != 0 || gr.gr_gid != g.gid) abort();
        size_t i = 0;
        for (; gr.gr_mem[i] != nullptr; ++i) {
            if (i >= g.members.size() || g.members[i] != gr.gr_mem[i]) abort();
            if (gr.gr_mem[i] < buf || gr.gr_mem[i] >= buf + len) abort();
        }
        if (i != g.members.size()) abort();
        if (reinterpret_cast<uintptr_t>(gr.gr_mem) % alignof(char*) != 0) abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    uint8_t mode = in.byte();
    size_t align = mode >> 4 & 7;
    if (mode & 1) {
        proto::Group g;
        g.name = in.str();
        g.gid = in.u32();
        size_t count = in.byte() % 64;
        for (size_t i = 0; i < count; ++i) g.members.push_back(in.str());
        check_gr(g, align);
    } else {
        proto::Passwd p;
        p.name = in.str();
        p.uid = in.u32();
        p.gid = in.u32();
        p.gecos = in.str();
        p.dir = in.str();
        p.shell = in.str();
        check_pw(p, align);
    }
    // add_gids: a list of gids into an array that grows, with a limit.
    std::vector<uint32_t> gids;
    size_t count = in.byte();
    for (size_t i = 0; i < count && in.n >= 2; ++i) gids.push_back(in.byte() << 8 | in.byte());
    long int limit = in.byte() % 40;
    long int sz = 1 + in.byte() % 4, start = 1;
    gid_t* groups = static_cast<gid_t*>(malloc(sz * sizeof(gid_t)));
    if (groups == nullptr) return 0;
    groups[0] = 7;
    if (nss::add_gids(gids, 7, &start, &sz, &groups, limit) != 0) abort();
    if (start > sz || (limit > 0 && start > limit)) abort();
    for (long int i = 0; i < start; ++i)
        for (long int j = i + 1; j < start; ++j)
            if (groups[i] == groups[j]) abort();
    free(groups);
    return 0;
}
