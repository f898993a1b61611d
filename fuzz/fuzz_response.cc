// Fuzz target: what a client makes of a daemon's response (common/protocol.cc
// Reader, as nss/lookup.cc and the PAM module use it), followed by packing
// each decoded record into the caller's buffer (nss/pack.cc) the way the NSS
// entry points do. The first input byte picks the expected response shape;
// the rest is one response frame without its length prefix. By-key records
// are read both ways, owning and in place (the module's warm path), and the
// two must agree field for field and pack alike.
#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.h"
#include "nss/pack.h"

using namespace dj;

namespace {

// Packs into a heap buffer of exactly the needed size (so a write past it is
// caught) and into one a byte short (which must say ERANGE).
template <typename Pw>
void pack_pw(const Pw& p) {
    size_t need = nss::passwd_size(p);
    std::vector<char> buf(need ? need : 1);
    struct passwd pw;
    if (nss::pack_passwd(p, &pw, buf.data(), need) != 0) abort();
    if (std::string_view(pw.pw_name) != p.name || pw.pw_uid != p.uid) abort();
    if (need > 0) {
        std::vector<char> small(need - 1 ? need - 1 : 1);
        if (nss::pack_passwd(p, &pw, small.data(), need - 1) != ERANGE) abort();
    }
}

template <typename Gr>
void pack_gr(const Gr& g) {
    std::vector<char> buf(4096 + 64);
    char* start = buf.data() + 1;   // misaligned on purpose
    size_t need = nss::group_size(g, start);
    if (need > 4096) return;
    std::vector<char> exact(need + 1);
    start = exact.data() + 1;
    need = nss::group_size(g, start);
    struct group gr;
    if (need > exact.size() - 1) abort();
    if (nss::pack_group(g, &gr, start, need) != 0) abort();
    size_t n = 0;
    while (gr.gr_mem[n] != nullptr) ++n;
    if (n != g.members.size() || gr.gr_gid != g.gid) abort();
    if (need > 0 && nss::pack_group(g, &gr, start, need - 1) != ERANGE) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
    proto::Reader rd(frame);
    if (!rd.header_ok()) return 0;
    switch (data[0] % 7) {
        case 0: {   // PwByName / PwByUid
            proto::Reader rv(frame);
            proto::PasswdView v = rv.passwd_view();
            proto::Passwd p = rd.passwd();
            if (rv.at_end() != rd.at_end()) abort();
            if (rd.at_end()) {
                if (v.name != p.name || v.uid != p.uid || v.gid != p.gid || v.gecos != p.gecos ||
                    v.dir != p.dir || v.shell != p.shell)
                    abort();
                pack_pw(p);
                pack_pw(v);
            }
            break;
        }
        case 1: {   // GrByName / GrByGid
            proto::Reader rv(frame);
            proto::GroupView v = rv.group_view();
            proto::Group g = rd.group();
            if (rv.at_end() != rd.at_end()) abort();
            if (rd.at_end()) {
                if (v.name != g.name || v.gid != g.gid || v.members.size() != g.members.size() ||
                    !std::equal(v.members.begin(), v.members.end(), g.members.begin(), g.members.end()))
                    abort();
                pack_gr(g);
                pack_gr(v);
            }
            break;
        }
        case 2: {   // PwList
            uint32_t n = rd.u32();
            std::vector<proto::Passwd> v;
            for (uint32_t i = 0; i < n && rd.ok(); ++i) v.push_back(rd.passwd());
            rd.u32();
            if (rd.at_end())
                for (auto& p : v) pack_pw(p);
            break;
        }
        case 3: {   // GrList
            uint32_t n = rd.u32();
            std::vector<proto::Group> v;
            for (uint32_t i = 0; i < n && rd.ok(); ++i) v.push_back(rd.group());
            rd.u32();
            if (rd.at_end())
                for (auto& g : v) pack_gr(g);
            break;
        }
        case 4: {   // GroupsOfUser
            uint32_t n = rd.u32();
            std::vector<uint32_t> gids;
            for (uint32_t i = 0; i < n && rd.ok(); ++i) gids.push_back(rd.u32());
            if (rd.at_end()) {
                long int start = 1, sz = 1;
                gid_t* groups = static_cast<gid_t*>(malloc(sizeof(gid_t)));
                if (groups == nullptr) return 0;
                groups[0] = 100;
                nss::add_gids(gids, 100, &start, &sz, &groups, 64);
                if (start > 64 || start > sz) abort();
                free(groups);
            }
            break;
        }
        case 5: {   // Hello, Account, ChangePassword, Stats
            rd.str();
            rd.u32();
            (void)rd.at_end();
            break;
        }
        default: {  // any strings list
            std::vector<std::string> v = rd.strs();
            (void)v;
            (void)rd.at_end();
        }
    }
    return 0;
}
