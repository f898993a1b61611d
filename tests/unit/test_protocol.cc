// The wire protocol (common/protocol.cc): round trips of every field and
// record, and a reader that stays safe on truncated frames, lying lengths and
// counts, NUL bytes inside strings and wrong headers.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <setjmp.h>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "common/protocol.h"

using namespace dj::proto;

namespace {

// The frame without its u32 length, as the Reader wants it.
std::string body_of(const std::vector<uint8_t>& f) {
    assert_true(f.size() >= 4 + kHeaderSize);
    assert_int_equal(read_be32(f.data()), f.size() - 4);
    return std::string(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
}

std::string header(Op op, Status st = Status::Ok) {
    return std::string{char(kProtocolVersion), char(op), char(st), 0};
}

std::string be32(uint32_t v) {
    uint8_t b[4];
    write_be32(b, v);
    return std::string(reinterpret_cast<char*>(b), 4);
}

Passwd sample_pw() {
    Passwd p;
    p.name = "alice";
    p.uid = 0xfffffffe;
    p.gid = 20001;
    p.gecos = "Alice, Room 5";
    p.dir = "/home/alice";
    p.shell = "/bin/bash";
    return p;
}

void test_be32(void**) {
    uint8_t b[4];
    write_be32(b, 0x01020304);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[3], 4);
    assert_int_equal(read_be32(b), 0x01020304);
    write_be32(b, 0xffffffff);
    assert_int_equal(read_be32(b), 0xffffffffu);
}

void test_header_round_trip(void**) {
    Writer w(Op::GrByGid, Status::NotFound);
    std::string f = body_of(w.finish());
    Reader r(f);
    assert_true(r.header_ok());
    assert_int_equal(r.version(), kProtocolVersion);
    assert_int_equal(int(r.op()), int(Op::GrByGid));
    assert_int_equal(int(r.status()), int(Status::NotFound));
    assert_true(r.at_end());
}

void test_fields_round_trip(void**) {
    Writer w(Op::Stats);
    w.u32(0);
    w.u32(0xdeadbeef);
    w.str("");
    w.str("hello");
    w.str(std::string(kMaxString, 'a'));
    w.strs({"a", "", "ccc"});
    w.strs({});
    std::string f = body_of(w.finish());
    Reader r(f);
    assert_int_equal(r.u32(), 0);
    assert_int_equal(r.u32(), 0xdeadbeefu);
    assert_string_equal(r.str().c_str(), "");
    assert_string_equal(r.str().c_str(), "hello");
    assert_int_equal(r.str().size(), kMaxString);
    auto v = r.strs();
    assert_int_equal(v.size(), 3);
    assert_string_equal(v[2].c_str(), "ccc");
    assert_int_equal(r.strs().size(), 0);
    assert_true(r.ok());
    assert_true(r.at_end());
    // Reading past the end fails and stays failed.
    assert_int_equal(r.u32(), 0);
    assert_false(r.ok());
    assert_false(r.at_end());
}

void test_records_round_trip(void**) {
    Group g;
    g.name = "devs";
    g.gid = 30001;
    g.members = {"alice", "bob", "zoë"};
    Writer w(Op::GrList);
    w.u32(2);
    w.passwd(sample_pw());
    w.group(g);
    std::string f = body_of(w.finish());
    Reader r(f);
    assert_int_equal(r.u32(), 2);
    Passwd p = r.passwd();
    assert_string_equal(p.name.c_str(), "alice");
    assert_int_equal(p.uid, 0xfffffffeu);
    assert_int_equal(p.gid, 20001);
    assert_string_equal(p.gecos.c_str(), "Alice, Room 5");
    assert_string_equal(p.dir.c_str(), "/home/alice");
    assert_string_equal(p.shell.c_str(), "/bin/bash");
    Group g2 = r.group();
    assert_string_equal(g2.name.c_str(), "devs");
    assert_int_equal(g2.gid, 30001);
    assert_int_equal(g2.members.size(), 3);
    assert_string_equal(g2.members[2].c_str(), "zoë");
    assert_true(r.at_end());
}

// A passwd and a group record (members: one empty, one not ASCII), then a u32.
std::string sample_records() {
    Group g;
    g.name = "group";
    g.gid = 7;
    g.members = {"m1", "", "zoë"};
    Writer w(Op::GrByName);
    w.passwd(sample_pw());
    w.group(g);
    w.u32(1);
    return body_of(w.finish());
}

// The in-place reads see exactly what the owning ones do.
void test_views_match_records(void**) {
    const std::string f = sample_records();
    Reader owning(f), in_place(f);
    Passwd p = owning.passwd();
    PasswdView pv = in_place.passwd_view();
    assert_true(pv.name == p.name && pv.uid == p.uid && pv.gid == p.gid && pv.gecos == p.gecos &&
                pv.dir == p.dir && pv.shell == p.shell);
    Group g2 = owning.group();
    GroupView gv = in_place.group_view();
    assert_true(gv.name == g2.name && gv.gid == g2.gid);
    assert_int_equal(gv.members.size(), 3);
    std::vector<std::string> m(gv.members.begin(), gv.members.end());
    assert_true(m == g2.members);
    assert_true(m == std::vector<std::string>({"m1", "", "zoë"}));
    assert_int_equal(owning.u32(), 1);
    assert_int_equal(in_place.u32(), 1);
    assert_true(owning.at_end() && in_place.at_end());
}

void test_writer_limits(void**) {
    Writer w(Op::PwByName);
    bool threw = false;
    try {
        w.str(std::string(kMaxString + 1, 'a'));
    } catch (const std::length_error&) {
        threw = true;
    }
    assert_true(threw);
}

void test_short_header(void**) {
    for (size_t n = 0; n < kHeaderSize; ++n) {
        std::string f = header(Op::Hello).substr(0, n);
        Reader r(f);
        assert_false(r.header_ok());
        assert_false(r.ok());
        assert_int_equal(r.u32(), 0);
        assert_string_equal(r.str().c_str(), "");
        assert_false(r.at_end());
    }
}

void test_bad_header(void**) {
    std::string f = header(Op::Hello);
    f[0] = char(kProtocolVersion + 1);
    assert_false(Reader(f).header_ok());
    f = header(Op::Hello);
    f[3] = 1;   // reserved byte
    assert_false(Reader(f).header_ok());
}

// Every prefix of a valid frame must read as not ok, owning or in place,
// never crash.
void test_every_truncation(void**) {
    const std::string full = sample_records();
    for (size_t n = kHeaderSize; n < full.size(); ++n) {
        Reader r(std::string_view(full).substr(0, n));
        assert_true(r.header_ok());
        r.passwd();
        r.group();
        r.u32();
        assert_false(r.ok());
        assert_false(r.at_end());
        Reader v(std::string_view(full).substr(0, n));
        v.passwd_view();
        v.group_view();
        v.u32();
        assert_false(v.ok());
        assert_false(v.at_end());
    }
    Reader r(full);
    r.passwd();
    r.group();
    r.u32();
    assert_true(r.at_end());
}

void test_lying_string_length(void**) {
    // Says 100 bytes, carries 3.
    std::string f = header(Op::PwByName) + be32(100) + "abc";
    Reader r(f);
    assert_string_equal(r.str().c_str(), "");
    assert_false(r.ok());
    // Longer than kMaxString even though the bytes are there.
    std::string big = header(Op::PwByName) + be32(kMaxString + 1) + std::string(kMaxString + 1, 'a');
    Reader r2(big);
    assert_int_equal(r2.str().size(), 0);
    assert_false(r2.ok());
    // 0xffffffff must not wrap any arithmetic.
    std::string wrap = header(Op::PwByName) + be32(0xffffffff) + "abcd";
    Reader r3(wrap);
    r3.str();
    assert_false(r3.ok());
}

void test_nul_inside_string(void**) {
    std::string f = header(Op::PwByName) + be32(5) + std::string("al\0ce", 5);
    Reader r(f);
    assert_string_equal(r.str().c_str(), "");
    assert_false(r.ok());
    std::string f2 = header(Op::PwByName) + be32(1) + std::string(1, '\0');
    Reader r2(f2);
    r2.str();
    assert_false(r2.ok());
}

void test_huge_counts(void**) {
    // A count far beyond what the bytes can hold must fail without reserving.
    for (uint32_t n : {kMaxListItems + 1, kMaxListItems, 0xffffffffu, 1000u, 2u}) {
        std::string f = header(Op::GrByName) + be32(n) + be32(1) + "a";
        Reader r(f);
        auto v = r.strs();
        assert_int_equal(v.size(), 0);
        assert_false(r.ok());
    }
    // A group whose member count lies.
    std::string g = header(Op::GrByName) + be32(4) + "devs" + be32(9) + be32(0x7fffffff) + be32(1) + "a";
    Reader r(g);
    Group gr = r.group();
    assert_false(r.ok());
    assert_int_equal(gr.members.size(), 0);
}

void test_trailing_bytes(void**) {
    std::string f = header(Op::PwByUid) + be32(5) + "x";
    Reader r(f);
    assert_int_equal(r.u32(), 5);
    assert_true(r.ok());
    assert_false(r.at_end());   // one byte left over
}

// Random bytes after a valid header: the reader only ever fails cleanly.
// Whatever it accepted lies inside the frame (checked against the bytes
// themselves), and once it has failed every further read gives nothing
// and it stays failed. Both outcomes must occur, or the bytes tested nothing.
void test_random_frames(void**) {
    std::mt19937 rng(12345);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string f = header(Op::GrList);
        size_t n = rng() % 24;
        for (size_t k = 0; k < n; ++k) {
            // Mostly small big-endian numbers, so that counts and lengths
            // sometimes fit, and random bytes.
            if (rng() % 3 != 0) {
                f += be32(rng() % 6);
            } else {
                f += char(rng() % 256);
            }
        }
        Reader r(f);
        uint32_t count = r.u32();
        for (uint32_t k = 0; k < count && r.ok() && k < 1000; ++k) {
            Group g = r.group();
            if (r.ok()) {
                ++accepted;
                assert_true(g.name.size() < f.size());
                assert_true(f.find(g.name) != std::string::npos);
                for (const auto& m : g.members) assert_true(f.find(m) != std::string::npos);
            }
        }
        Passwd pw = r.passwd();
        if (r.ok()) {
            ++accepted;
            assert_true(f.find(pw.name) != std::string::npos && f.find(pw.shell) != std::string::npos);
        } else {
            ++refused;
            // (a record it gave up on may hold the fields read before)
            assert_int_equal(r.u32(), 0);
            assert_true(r.str().empty());
            assert_false(r.ok());
            assert_false(r.at_end() && r.ok());
        }
    }
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

void test_names(void**) {
    assert_string_equal(op_name(Op::GroupsOfUser), "groups-of-user");
    assert_string_equal(op_name(static_cast<Op>(200)), "unknown op");
    assert_string_equal(status_name(Status::Throttled), "throttled");
    assert_string_equal(status_name(static_cast<Status>(200)), "unknown status");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_be32),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_records_round_trip),
        cmocka_unit_test(test_views_match_records),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_short_header),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_lying_string_length),
        cmocka_unit_test(test_nul_inside_string),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_random_frames),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
