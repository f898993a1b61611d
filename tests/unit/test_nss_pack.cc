// Buffer packing for the NSS module (nss/pack.cc): for every buffer size from
// 0 up to what a record needs, ERANGE below and success at and above; strings
// exact; gr_mem aligned for char* at every start offset; initgroups' array
// growth honoring `limit`.
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <setjmp.h>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "nss/pack.h"

using dj::proto::Group;
using dj::proto::Passwd;

namespace {

Passwd sample_pw() {
    Passwd p;
    p.name = "alice";
    p.uid = 20001;
    p.gid = 20002;
    p.gecos = "Alice Liddell";
    p.dir = "/home/alice";
    p.shell = "/bin/bash";
    return p;
}

Group sample_gr(size_t members) {
    Group g;
    g.name = "devs";
    g.gid = 30001;
    for (size_t i = 0; i < members; ++i) g.members.push_back("member" + std::to_string(i));
    return g;
}

void check_pw(const Passwd& p, const struct passwd& out, const char* buf, size_t len) {
    assert_string_equal(out.pw_name, p.name.c_str());
    assert_string_equal(out.pw_passwd, "x");
    assert_int_equal(out.pw_uid, p.uid);
    assert_int_equal(out.pw_gid, p.gid);
    assert_string_equal(out.pw_gecos, p.gecos.c_str());
    assert_string_equal(out.pw_dir, p.dir.c_str());
    assert_string_equal(out.pw_shell, p.shell.c_str());
    for (const char* s : {out.pw_name, out.pw_passwd, out.pw_gecos, out.pw_dir, out.pw_shell}) {
        assert_true(s >= buf);
        assert_true(s + std::strlen(s) < buf + len);
    }
}

void check_gr(const Group& g, const struct group& out, const char* buf, size_t len) {
    assert_string_equal(out.gr_name, g.name.c_str());
    assert_string_equal(out.gr_passwd, "x");
    assert_int_equal(out.gr_gid, g.gid);
    assert_int_equal(reinterpret_cast<uintptr_t>(out.gr_mem) % alignof(char*), 0);
    assert_true(reinterpret_cast<const char*>(out.gr_mem) >= buf);
    assert_true(reinterpret_cast<const char*>(out.gr_mem + g.members.size() + 1) <= buf + len);
    for (size_t i = 0; i < g.members.size(); ++i) {
        assert_non_null(out.gr_mem[i]);
        assert_string_equal(out.gr_mem[i], g.members[i].c_str());
        assert_true(out.gr_mem[i] >= buf && out.gr_mem[i] + g.members[i].size() < buf + len);
    }
    assert_null(out.gr_mem[g.members.size()]);
    assert_true(out.gr_name >= buf && out.gr_name + g.name.size() < buf + len);
}

void pw_every_size(const Passwd& p) {
    const size_t need = dj::nss::passwd_size(p);
    std::vector<char> block(need + 64);
    for (size_t len = 0; len <= need + 8; ++len) {
        struct passwd out {};
        std::memset(block.data(), 0x5a, block.size());
        int rc = dj::nss::pack_passwd(p, &out, block.data(), len);
        if (len < need) {
            assert_int_equal(rc, ERANGE);
        } else {
            assert_int_equal(rc, 0);
            check_pw(p, out, block.data(), len);
        }
        // Nothing written past the buffer.
        for (size_t i = len; i < block.size(); ++i) assert_int_equal(block[i], 0x5a);
    }
}

void test_passwd_every_size(void**) {
    pw_every_size(sample_pw());
    Passwd empty;   // empty gecos, dir, shell, name
    pw_every_size(empty);
    Passwd utf8 = sample_pw();
    utf8.gecos = "Zoë Ångström,Room 1,+1 555";
    pw_every_size(utf8);
}

void test_passwd_null_buffer(void**) {
    struct passwd out {};
    assert_int_equal(dj::nss::pack_passwd(sample_pw(), &out, nullptr, 0), ERANGE);
    assert_int_equal(dj::nss::pack_passwd(sample_pw(), &out, nullptr, 4096), ERANGE);
}

void gr_every_size(const Group& g) {
    alignas(16) static char block[1 << 16];
    for (size_t offset = 0; offset < 2 * alignof(char*); ++offset) {
        char* buf = block + offset;
        const size_t need = dj::nss::group_size(g, buf);
        assert_true(need + offset + 64 < sizeof block);
        for (size_t len = 0; len <= need + 8; ++len) {
            struct group out {};
            std::memset(block, 0x5a, need + offset + 64);
            int rc = dj::nss::pack_group(g, &out, buf, len);
            if (len < need) {
                assert_int_equal(rc, ERANGE);
            } else {
                assert_int_equal(rc, 0);
                check_gr(g, out, buf, len);
            }
            for (size_t i = offset + len; i < need + offset + 64; ++i) assert_int_equal(block[i], 0x5a);
        }
    }
}

void test_group_every_size(void**) {
    gr_every_size(sample_gr(0));
    gr_every_size(sample_gr(1));
    gr_every_size(sample_gr(3));
    gr_every_size(sample_gr(40));
    Group odd = sample_gr(2);
    odd.members[1] = "";   // an empty name still packs
    odd.name = "g";
    gr_every_size(odd);
}

void test_group_size_padding(void**) {
    alignas(16) char block[256];
    Group g = sample_gr(2);
    size_t aligned = dj::nss::group_size(g, block);
    for (size_t off = 1; off < alignof(char*); ++off)
        assert_int_equal(dj::nss::group_size(g, block + off), aligned + alignof(char*) - off);
}

void test_big_group(void**) {
    Group g = sample_gr(20000);
    std::vector<char> buf(dj::nss::group_size(g, nullptr) + 16);
    struct group out {};
    char* start = buf.data() + 3;
    size_t need = dj::nss::group_size(g, start);
    assert_int_equal(dj::nss::pack_group(g, &out, start, need - 1), ERANGE);
    assert_int_equal(dj::nss::pack_group(g, &out, start, need), 0);
    check_gr(g, out, start, need);
}

// The in-place views (the by-key path) pack byte for byte like the owning
// records (enumeration), at every buffer size and start offset.
void test_views_pack_like_records(void**) {
    Group g = sample_gr(7);
    g.members[3] = "";
    dj::proto::Writer w(dj::proto::Op::GrByName);
    w.passwd(sample_pw());
    w.group(g);
    const std::vector<uint8_t>& frame = w.finish();
    std::string body(frame.begin() + 4, frame.end());
    dj::proto::Reader rd(body);
    const dj::proto::PasswdView pv = rd.passwd_view();
    const dj::proto::GroupView gv = rd.group_view();
    assert_true(rd.at_end());
    assert_int_equal(dj::nss::passwd_size(pv), dj::nss::passwd_size(sample_pw()));
    alignas(16) static char a[8192], b[8192];
    for (size_t off = 0; off < alignof(char*); ++off) {
        assert_int_equal(dj::nss::group_size(gv, a + off), dj::nss::group_size(g, b + off));
        const size_t need = dj::nss::group_size(g, b + off);
        for (size_t len = 0; len <= need + 4; ++len) {
            std::memset(a, 0x5a, sizeof a);
            std::memset(b, 0x5a, sizeof b);
            struct group ga {}, gb {};
            int ra = dj::nss::pack_group(gv, &ga, a + off, len);
            int rb = dj::nss::pack_group(g, &gb, b + off, len);
            assert_int_equal(ra, rb);
            if (ra == 0) {
                assert_int_equal(ga.gr_gid, gb.gr_gid);
                assert_int_equal(ga.gr_name - a, gb.gr_name - b);
                for (size_t i = 0; i <= g.members.size(); ++i)
                    assert_int_equal(ga.gr_mem[i] ? ga.gr_mem[i] - a : -1, gb.gr_mem[i] ? gb.gr_mem[i] - b : -1);
                // The strings after the pointer array (whose addresses differ).
                const size_t strings = size_t(reinterpret_cast<char*>(gb.gr_mem + g.members.size() + 1) - b);
                assert_memory_equal(a + strings, b + strings, off + len + 16 - strings);
            }
        }
        const size_t pneed = dj::nss::passwd_size(pv);
        for (size_t len = 0; len <= pneed + 4; ++len) {
            std::memset(a, 0x5a, sizeof a);
            std::memset(b, 0x5a, sizeof b);
            struct passwd pa {}, pb {};
            assert_int_equal(dj::nss::pack_passwd(pv, &pa, a + off, len),
                             dj::nss::pack_passwd(sample_pw(), &pb, b + off, len));
            assert_memory_equal(a + off, b + off, len + 16);
        }
    }
}

// --- initgroups array growth ---------------------------------------------------------

struct Groups {
    long start = 0, size = 0;
    gid_t* v = nullptr;
    ~Groups() { std::free(v); }
    void init(std::vector<gid_t> have, long sz) {
        size = sz;
        v = static_cast<gid_t*>(std::malloc(sizeof(gid_t) * size_t(sz)));
        for (gid_t x : have) v[start++] = x;
    }
};

void test_add_gids_grows(void**) {
    Groups g;
    g.init({100}, 1);
    std::vector<uint32_t> gids;
    for (uint32_t i = 0; i < 100; ++i) gids.push_back(1000 + i);
    assert_int_equal(dj::nss::add_gids(gids, 100, &g.start, &g.size, &g.v, -1), 0);
    assert_int_equal(g.start, 101);
    assert_true(g.size >= 101);
    assert_int_equal(g.v[0], 100);
    for (long i = 1; i < 101; ++i) assert_int_equal(g.v[i], 1000 + i - 1);
}

void test_add_gids_skips_group_and_duplicates(void**) {
    Groups g;
    g.init({500, 600}, 4);
    assert_int_equal(dj::nss::add_gids({500, 600, 700, 700, 800}, 500, &g.start, &g.size, &g.v, 0), 0);
    assert_int_equal(g.start, 4);
    assert_int_equal(g.v[2], 700);
    assert_int_equal(g.v[3], 800);
    assert_int_equal(g.size, 4);   // no growth needed
}

void test_add_gids_limit(void**) {
    Groups g;
    g.init({1}, 2);
    assert_int_equal(dj::nss::add_gids({10, 11, 12, 13, 14, 15}, 1, &g.start, &g.size, &g.v, 4), 0);
    assert_int_equal(g.start, 4);
    assert_true(g.size <= 4);
    assert_int_equal(g.v[1], 10);
    assert_int_equal(g.v[3], 12);
    // Already at the limit: nothing more, no growth.
    assert_int_equal(dj::nss::add_gids({20}, 1, &g.start, &g.size, &g.v, 4), 0);
    assert_int_equal(g.start, 4);
}

void test_add_gids_from_empty(void**) {
    long start = 0, size = 0;
    gid_t* v = nullptr;
    assert_int_equal(dj::nss::add_gids({7, 8}, 9, &start, &size, &v, -1), 0);
    assert_int_equal(start, 2);
    assert_int_equal(v[0], 7);
    assert_int_equal(v[1], 8);
    std::free(v);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwd_every_size),
        cmocka_unit_test(test_passwd_null_buffer),
        cmocka_unit_test(test_group_every_size),
        cmocka_unit_test(test_views_pack_like_records),
        cmocka_unit_test(test_group_size_padding),
        cmocka_unit_test(test_big_group),
        cmocka_unit_test(test_add_gids_grows),
        cmocka_unit_test(test_add_gids_skips_group_and_duplicates),
        cmocka_unit_test(test_add_gids_limit),
        cmocka_unit_test(test_add_gids_from_empty),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
