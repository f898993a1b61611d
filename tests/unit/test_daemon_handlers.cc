// django-authd's request handling (daemon/handlers*.cc, entries.cc, cache.cc)
// over a fake database: Django's authentication outcomes, who may call what,
// permission resolution, NSS shaping (names, id ranges, inactive users),
// enumeration paging, the cache, and malformed requests.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <setjmp.h>
#include <string>
#include <vector>

#include "passwords/hashers.h"
#include "common/protocol.h"
#include "daemon/cache.h"
#include "daemon/db.h"
#include "daemon/entries.h"
#include "daemon/handlers.h"
#include "daemon/cache_tags.h"
#include "daemon/invalidation.h"
#include "daemon/log.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <cmocka.h>
}


using namespace dj;
using proto::Op;
using proto::Status;

namespace {

struct FakeDb : db::Database {
    std::vector<db::UserRow> users;
    std::vector<db::GroupRow> groups;
    std::multimap<int64_t, int64_t> membership;           // user -> group
    std::multimap<int64_t, std::string> user_perms, group_perms;
    std::multimap<int64_t, std::string> keys;              // user -> stored key text
    bool down = false;
    int queries = 0;
    std::map<int64_t, std::string> stored;                // set_password calls

    void check() {
        ++queries;
        if (down) throw db::DbUnavailable("fake database is down");
    }
    std::optional<db::UserRow> user_by_name(std::string_view n) override {
        check();
        for (auto& u : users)
            if (u.username == n) return u;
        return std::nullopt;
    }
    std::optional<db::UserRow> user_by_id(int64_t id) override {
        check();
        for (auto& u : users)
            if (u.id == id) {
                auto c = u;
                c.password.clear();
                return c;
            }
        return std::nullopt;
    }
    std::vector<db::UserRow> users_after(int64_t after, int limit) override {
        check();
        std::vector<db::UserRow> out;
        for (auto& u : users)
            if (u.id > after && int(out.size()) < limit) out.push_back(u);
        return out;
    }
    std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t after, int limit) override {
        check();
        std::vector<std::pair<int64_t, std::string>> out;
        for (auto& u : users)
            if (u.id > after && int(out.size()) < limit) out.emplace_back(u.id, u.password);
        return out;
    }
    std::optional<db::GroupRow> group_by_name(std::string_view n) override {
        check();
        for (auto& g : groups)
            if (g.name == n) return g;
        return std::nullopt;
    }
    std::optional<db::GroupRow> group_by_id(int64_t id) override {
        check();
        for (auto& g : groups)
            if (g.id == id) return g;
        return std::nullopt;
    }
    std::vector<db::GroupRow> groups_after(int64_t after, int limit) override {
        check();
        std::vector<db::GroupRow> out;
        for (auto& g : groups)
            if (g.id > after && int(out.size()) < limit) out.push_back(g);
        return out;
    }
    std::vector<db::MemberRow> active_members(int64_t gid) override {
        check();
        std::vector<db::MemberRow> out;
        for (auto& u : users)
            for (auto [it, end] = membership.equal_range(u.id); it != end; ++it)
                if (it->second == gid && u.is_active) out.push_back({u.id, u.username});
        return out;
    }
    std::vector<db::GroupRow> groups_of_user(int64_t uid) override {
        check();
        std::vector<db::GroupRow> out;
        for (auto [it, end] = membership.equal_range(uid); it != end; ++it)
            for (auto& g : groups)
                if (g.id == it->second) out.push_back(g);
        return out;
    }
    std::vector<std::string> permissions_of_user(int64_t uid) override {
        check();
        std::vector<std::string> out;
        for (auto [it, end] = user_perms.equal_range(uid); it != end; ++it) out.push_back(it->second);
        for (auto [it, end] = membership.equal_range(uid); it != end; ++it)
            for (auto [p, pend] = group_perms.equal_range(it->second); p != pend; ++p) out.push_back(p->second);
        return out;
    }
    std::vector<std::string> keys_of_user(int64_t uid) override {
        check();
        std::vector<std::string> out;
        for (auto [it, end] = keys.equal_range(uid); it != end; ++it) out.push_back(it->second);
        return out;
    }
    void set_password(int64_t id, std::string_view enc) override {
        check();
        stored[id] = std::string(enc);
        for (auto& u : users)
            if (u.id == id) u.password = std::string(enc);
    }
    void set_last_login(int64_t) override { check(); }
    void ping() override { check(); }
    std::string describe() const override { return "fake"; }
};

struct World {
    Config cfg;
    FakeDb db;
    Hashers hashers{std::vector<std::string>{"pbkdf2_sha256", "pbkdf2_sha1"}, [] {
                        HashParams p;
                        p.pbkdf2_iterations = 1000;
                        return p;
                    }()};
    Cache cache{std::chrono::seconds(60), std::chrono::seconds(10), 1000, 1 << 20};
    std::unique_ptr<Handler> handler;
    // The host's own passwd and group files, in a directory of the test's.
    std::filesystem::path host_dir;

    void write_host_files(const std::string& passwd, const std::string& group) {
        // A new file each time (as useradd renames one into place), so the
        // change shows even within one clock tick.
        for (auto [name, text] : {std::pair{"passwd", passwd}, std::pair{"group", group}}) {
            auto tmp = host_dir / (std::string(name) + ".new");
            std::ofstream(tmp) << text;
            std::filesystem::rename(tmp, host_dir / name);
        }
    }

    // `tweak` adjusts the configuration before the handler is made.
    explicit World(const std::function<void(Config&)>& tweak = {},
                   const std::string& host_passwd = "root:x:0:0:root:/root:/bin/sh\n",
                   const std::string& host_group = "root:x:0:\nusers:x:100:\n") {
        char tmpl[] = "/tmp/djtest-host-XXXXXX";
        host_dir = mkdtemp(tmpl);
        write_host_files(host_passwd, host_group);
        cfg.nss.passwd_file = host_dir / "passwd";
        cfg.nss.group_file = host_dir / "group";
        cfg.access.default_rule = {"*"};
        cfg.nss.uid_max = 200000 + 1000;
        cfg.nss.gid_max = 200000 + 1000;
        auto add = [&](int64_t id, const char* name, const char* pw, bool active, bool staff = false,
                       bool super = false) {
            db::UserRow u;
            u.id = id;
            u.username = name;
            u.password = pw ? hashers.encode_with("pbkdf2_sha256", pw, 1000) : "!unusable";
            u.is_active = active;
            u.is_staff = staff;
            u.is_superuser = super;
            u.first_name = "First";
            u.last_name = "La:st";
            db.users.push_back(u);
        };
        add(1, "alice", "alice-pw", true, true);
        add(2, "bob", "bob-pw", false);
        add(3, "carol", nullptr, true);
        add(4, "boss", "boss-pw", true, true, true);
        add(5, "bad:name", "x", true);
        add(6, "-dash", "x", true);
        add(7, "dave", "dave-pw", true);
        add(8, "erin", "erin-pw", true);    // in no group
        add(5000, "far", "far-pw", true);   // uid beyond uid_max
        db.groups = {{1, "devs"}, {2, "ops"}, {3, "with space"}, {4, "empty"}, {9000, "fargroup"}};
        db.membership = {{1, 1}, {2, 1}, {5, 1}, {7, 1}, {1, 2}, {7, 3}, {1, 9000}};
        db.user_perms = {{7, "auth.add_user"}};
        db.group_perms = {{1, "auth.view_group"}};
        AuthClients clients;
        clients.allow_uid(33);
        if (tweak) tweak(cfg);
        handler = std::make_unique<Handler>(cfg, db, hashers, cache, clients, 100);
    }
    ~World() { std::filesystem::remove_all(host_dir); }

    struct Answer {
        Status status;
        std::string frame;
    };
    Answer call(proto::Writer& w, uid_t uid = 0) {
        auto& f = w.finish();
        std::string frame(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
        Peer p;
        p.uid = uid;
        p.pid = 1;
        Reply r = handler->handle(frame, p);
        std::string body(reinterpret_cast<const char*>(r.frame.data()) + 4, r.frame.size() - 4);
        proto::Reader rd(body);
        return Answer{rd.status(), body};
    }
    // `otp`: the one-time code policy the module sends (0: none).
    Status auth(const char* user, const char* pw, uid_t uid = 0, const char* service = "svc", uint32_t otp = 0) {
        proto::Writer w(Op::Authenticate);
        w.str(user);
        w.str(pw);
        w.str(service);
        w.str("");
        if (otp) w.u32(otp);
        return call(w, uid).status;
    }
    Answer account_as(uid_t uid, const char* user, std::vector<std::string> groups, uint32_t flags,
                      std::vector<std::string> perms, const char* service = "svc") {
        proto::Writer w(Op::Account);
        w.str(user);
        w.strs(groups);
        w.u32(flags);
        w.strs(perms);
        w.str(service);
        return call(w, uid);
    }
    Status account(const char* user, std::vector<std::string> groups, uint32_t flags, std::vector<std::string> perms,
                   const char* service = "svc") {
        return account_as(0, user, std::move(groups), flags, std::move(perms), service).status;
    }
    Status change(const char* user, const char* old_pw, const char* new_pw, uint32_t flags, uid_t uid = 0,
                  const char* service = "svc") {
        proto::Writer pw(Op::ChangePassword);
        pw.str(user);
        pw.str(old_pw);
        pw.str(new_pw);
        pw.u32(flags);
        pw.str(service);
        return call(pw, uid).status;
    }
    Status by_name(Op op, const char* name) {
        proto::Writer q(op);
        q.str(name);
        return call(q, 1000).status;
    }
    // GrByName, which must answer Ok: the group.
    proto::Group group_named(const char* name) {
        proto::Writer q(Op::GrByName);
        q.str(name);
        auto a = call(q);
        assert_int_equal(a.status, Status::Ok);
        proto::Reader r(a.frame);
        return r.group();
    }
    Status by_id(Op op, uint32_t id) {
        proto::Writer q(op);
        q.u32(id);
        return call(q, 1000).status;
    }
};

void test_authenticate(void**) {
    World w;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);
    assert_int_equal(w.auth("alice", "wrong"), Status::WrongPassword);
    assert_int_equal(w.auth("bob", "bob-pw"), Status::NoUser);        // inactive: Django's None
    assert_int_equal(w.auth("nobody", "x"), Status::NoUser);
    assert_int_equal(w.auth("carol", ""), Status::WrongPassword);     // unusable password
    assert_int_equal(w.auth("ALICE", "alice-pw"), Status::NoUser);    // exact match
    assert_int_equal(w.auth("bad:name", "x"), Status::Ok);            // Django's semantics, not NSS's
    // Only uid 0 and auth clients.
    assert_int_equal(w.auth("alice", "alice-pw", 33), Status::Ok);
    assert_int_equal(w.auth("alice", "alice-pw", 1000), Status::Denied);
    w.db.down = true;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Unavailable);
}

void test_no_rehash_unless_enabled(void**) {
    World w;
    w.db.users[0].password = w.hashers.encode_with("pbkdf2_sha1", "alice-pw", 1000);
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);
    assert_true(w.db.stored.empty());
    w.cfg.passwords.rehash_on_login = true;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);
    assert_int_equal(w.db.stored.size(), 1);
    assert_int_equal(w.db.stored[1].rfind("pbkdf2_sha256$", 0), 0);
}

std::string stats(World& w) {
    proto::Writer s(Op::Stats);
    auto a = w.call(s, 0);
    assert_int_equal(a.status, Status::Ok);
    proto::Reader rd(a.frame);
    return rd.str();
}

// The site's own parameters: the strongest stored value of each family,
// read in pages; a [passwords] key wins; what is used shows in Stats.
void test_site_params(void**) {
    World w([](Config& c) { c.passwords.rehash_on_login = true; });
    assert_non_null(strstr(stats(w).c_str(), "hash_pbkdf2 iterations=1200000 (library default)"));
    w.db.users[0].password = w.hashers.encode_with("pbkdf2_sha256", "alice-pw", 2000);   // alice
    // Past the first pages: 2100 users with unusable values, then the strongest.
    for (int64_t id = 6000; id < 8100; ++id) {
        db::UserRow u;
        u.id = id;
        u.username = "u" + std::to_string(id);
        u.password = "!";
        w.db.users.push_back(u);
    }
    db::UserRow last;
    last.id = 9000;
    last.username = "last";
    last.password = w.hashers.encode_with("pbkdf2_sha1", "x", 2500);
    w.db.users.push_back(last);
    assert_true(w.handler->refresh_site_params());
    assert_int_equal(w.hashers.params().pbkdf2_iterations, 2500);
    std::string text = stats(w);
    assert_non_null(strstr(text.c_str(), "hash_pbkdf2 iterations=2500 (site: strongest stored)\n"));
    assert_non_null(strstr(text.c_str(), "hash_argon2 time_cost=2 memory_cost=102400 parallelism=8 hash_len=32 "
                                         "(library default)\n"));
    assert_non_null(strstr(text.c_str(), "hash_preferred pbkdf2_sha256\n"));
    assert_non_null(strstr(text.c_str(), "site_values 2110\n"));
    // No stored value in the text.
    assert_null(strstr(text.c_str(), "pbkdf2_sha256$"));
    // A value at the site's parameters is left alone; an older one is raised to them.
    w.db.users[0].password = w.hashers.encode_with("pbkdf2_sha256", "alice-pw", 2500);
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);
    assert_true(w.db.stored.empty());
    assert_int_equal(w.auth("dave", "dave-pw"), Status::Ok);
    assert_int_equal(w.db.stored.size(), 1);
    assert_int_equal(w.db.stored[7].rfind("pbkdf2_sha256$2500$", 0), 0);
    // A [passwords] key wins over the site.
    w.cfg.passwords.pbkdf2_iterations = 3000;
    assert_true(w.handler->refresh_site_params());
    assert_int_equal(w.hashers.params().pbkdf2_iterations, 3000);
    assert_non_null(strstr(stats(w).c_str(), "hash_pbkdf2 iterations=3000 (config)\n"));
    // A database that cannot be read leaves them as they are.
    w.cfg.passwords.pbkdf2_iterations = 0;
    w.db.down = true;
    assert_false(w.handler->refresh_site_params());
    assert_int_equal(w.hashers.params().pbkdf2_iterations, 3000);
    w.db.down = false;
    // A flush reads them again.
    proto::Writer f(Op::Flush);
    assert_int_equal(w.call(f, 0).status, Status::Ok);
    assert_int_equal(w.hashers.params().pbkdf2_iterations, 2500);
}

void test_change_password(void**) {
    World w;
    auto change = [&](const char* user, const char* old_pw, const char* new_pw, uint32_t flags, uid_t uid = 0) {
        return w.change(user, old_pw, new_pw, flags, uid);
    };
    assert_int_equal(change("alice", "alice-pw", "new-pw", 0), Status::Disabled);
    w.cfg.passwords.allow_change = true;
    assert_int_equal(change("alice", "alice-pw", "new-pw", 0, 1000), Status::Denied);
    assert_int_equal(change("alice", "bad", "new-pw", 0), Status::WrongPassword);
    assert_int_equal(change("bob", "bob-pw", "new-pw", 0), Status::NoUser);
    assert_int_equal(change("alice", "alice-pw", "", proto::kCheckOnly), Status::Ok);
    assert_true(w.db.stored.empty());
    assert_int_equal(change("alice", "alice-pw", "new-pw", 0), Status::Ok);
    assert_int_equal(w.auth("alice", "new-pw"), Status::Ok);
    assert_int_equal(w.auth("alice", "alice-pw"), Status::WrongPassword);
}

void test_account(void**) {
    World w;
    assert_int_equal(w.account("alice", {}, 0, {}), Status::Ok);
    assert_int_equal(w.account("bob", {}, 0, {}), Status::Inactive);
    assert_int_equal(w.account("ghost", {}, 0, {}), Status::NoUser);
    assert_int_equal(w.account("alice", {}, proto::kRequireStaff, {}), Status::Ok);
    assert_int_equal(w.account("dave", {}, proto::kRequireStaff, {}), Status::PermDenied);
    assert_int_equal(w.account("alice", {}, proto::kRequireSuperuser, {}), Status::PermDenied);
    assert_int_equal(w.account("boss", {}, proto::kRequireSuperuser, {}), Status::Ok);
    assert_int_equal(w.account("dave", {"ops", "devs"}, 0, {}), Status::Ok);
    assert_int_equal(w.account("dave", {"ops"}, 0, {}), Status::PermDenied);
    // User permissions, group permissions, both required.
    assert_int_equal(w.account("dave", {}, 0, {"auth.add_user"}), Status::Ok);
    assert_int_equal(w.account("dave", {}, 0, {"auth.view_group"}), Status::Ok);
    assert_int_equal(w.account("dave", {}, 0, {"auth.add_user", "auth.view_group"}), Status::Ok);
    assert_int_equal(w.account("dave", {}, 0, {"auth.add_user", "auth.delete_user"}), Status::PermDenied);
    assert_int_equal(w.account("alice", {}, 0, {"auth.add_user"}), Status::PermDenied);
    // An active superuser has every permission, even one that does not exist.
    assert_int_equal(w.account("boss", {}, 0, {"no.such"}), Status::Ok);
}

void test_passwd_shaping(void**) {
    World w;
    proto::Writer q(Op::PwByName);
    q.str("alice");
    auto a = w.call(q, 1000);
    assert_int_equal(a.status, Status::Ok);
    proto::Reader r(a.frame);
    auto p = r.passwd();
    assert_string_equal(p.name.c_str(), "alice");
    assert_int_equal(p.uid, 200001);
    assert_int_equal(p.gid, 100);
    assert_string_equal(p.gecos.c_str(), "First Last");
    assert_string_equal(p.dir.c_str(), "/home/alice");
    assert_string_equal(p.shell.c_str(), "/bin/bash");
    for (const char* name : {"bad:name", "-dash", "far", "", "ghost"}) {
        proto::Writer n(Op::PwByName);
        n.str(name);
        assert_int_equal(w.call(n).status, Status::NotFound);
    }
    // Inactive users keep their passwd entry.
    proto::Writer b(Op::PwByUid);
    b.u32(200002);
    assert_int_equal(w.call(b).status, Status::Ok);
    for (uint32_t uid : {0u, 200000u, 205000u, 4294967295u}) {
        proto::Writer u(Op::PwByUid);
        u.u32(uid);
        assert_int_equal(w.call(u).status, Status::NotFound);
    }
}

void test_groups(void**) {
    World w;
    auto g = w.group_named("devs");
    assert_int_equal(g.gid, 200001);
    // Active members with NSS-valid names only: bob inactive, bad:name invalid.
    assert_int_equal(g.members.size(), 2);
    assert_string_equal(g.members[0].c_str(), "alice");
    assert_string_equal(g.members[1].c_str(), "dave");
    for (const char* name : {"with space", "fargroup", "nosuch"}) {
        proto::Writer n(Op::GrByName);
        n.str(name);
        assert_int_equal(w.call(n).status, Status::NotFound);
    }
    proto::Writer gu(Op::GroupsOfUser);
    gu.str("alice");
    auto ga = w.call(gu);
    proto::Reader gr(ga.frame);
    assert_int_equal(gr.u32(), 2);   // devs, ops; not fargroup (out of range)
    assert_int_equal(gr.u32(), 200001);
    assert_int_equal(gr.u32(), 200002);
    proto::Writer gb(Op::GroupsOfUser);
    gb.str("bob");   // inactive: no groups, as Django's groups_for_user
    auto gba = w.call(gb);
    assert_int_equal(gba.status, Status::Ok);
    proto::Reader gbr(gba.frame);
    assert_int_equal(gbr.u32(), 0);
}

void test_enumeration_paging(void**) {
    World w;
    std::vector<std::string> names;
    uint32_t after = 0;
    for (int round = 0; round < 20; ++round) {
        proto::Writer q(Op::PwList);
        q.u32(after);
        q.u32(2);
        auto a = w.call(q);
        assert_int_equal(a.status, Status::Ok);
        proto::Reader r(a.frame);
        uint32_t n = r.u32();
        assert_true(n <= 2);
        for (uint32_t i = 0; i < n; ++i) {
            auto p = r.passwd();
            names.push_back(p.name);
            after = p.uid;
        }
        if (!r.u32()) break;
        assert_true(n > 0);   // "more" with nothing would loop forever
    }
    assert_int_equal(names.size(), 6);   // alice bob carol boss dave erin: no bad names, no "far"
    assert_string_equal(names[4].c_str(), "dave");

    proto::Writer q(Op::GrList);
    q.u32(0);
    q.u32(100);
    auto a = w.call(q);
    proto::Reader r(a.frame);
    assert_int_equal(r.u32(), 3);   // devs, ops, empty
}

// Account and Stats tell more than NSS shows: uid 0 and auth clients only,
// refused before the database is asked.
void test_account_and_stats_callers(void**) {
    World w;
    const int before = w.db.queries;
    for (uid_t uid : {uid_t(1000), uid_t(65534)}) {
        auto ans = w.account_as(uid, "alice", {}, proto::kRequireStaff, {});
        assert_int_equal(ans.status, Status::Denied);
        proto::Reader rd(ans.frame);
        assert_string_equal(rd.str().c_str(), "caller not allowed");
        proto::Writer s(Op::Stats);
        assert_int_equal(w.call(s, uid).status, Status::Denied);
    }
    assert_int_equal(w.db.queries, before);
    // An auth client (uid 33) and root get both.
    for (uid_t uid : {uid_t(33), uid_t(0)}) {
        assert_int_equal(w.account_as(uid, "alice", {}, proto::kRequireStaff, {}).status, Status::Ok);
        proto::Writer s(Op::Stats);
        assert_int_equal(w.call(s, uid).status, Status::Ok);
    }
    // Lookups stay open to everyone.
    proto::Writer q(Op::PwByName);
    q.str("alice");
    assert_int_equal(w.call(q, 65534).status, Status::Ok);
}

void test_cache_and_flush(void**) {
    World w;
    proto::Writer q(Op::PwByName);
    q.str("alice");
    w.call(q);
    int before = w.db.queries;
    proto::Writer q2(Op::PwByName);
    q2.str("alice");
    assert_int_equal(w.call(q2).status, Status::Ok);
    assert_int_equal(w.db.queries, before);   // from the cache
    // Negative answers are cached too.
    proto::Writer n1(Op::PwByName);
    n1.str("ghost");
    w.call(n1);
    before = w.db.queries;
    proto::Writer n2(Op::PwByName);
    n2.str("ghost");
    w.call(n2);
    assert_int_equal(w.db.queries, before);
    // Unavailable answers are not cached, password checks never are.
    proto::Writer f(Op::Flush);
    assert_int_equal(w.call(f, 1000).status, Status::Denied);
    proto::Writer f2(Op::Flush);
    assert_int_equal(w.call(f2, 0).status, Status::Ok);
    w.db.down = true;
    proto::Writer q3(Op::PwByName);
    q3.str("alice");
    assert_int_equal(w.call(q3).status, Status::Unavailable);
    w.db.down = false;
    proto::Writer q4(Op::PwByName);
    q4.str("alice");
    assert_int_equal(w.call(q4).status, Status::Ok);
}

// What an event loop answers by itself: a cached lookup, byte for byte what
// handle() answered, and nothing else; a miss is counted once.
void test_cached_answers(void**) {
    World w;
    auto frame_of = [](proto::Writer& q) {
        auto& f = q.finish();
        return std::string(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
    };
    proto::Writer q(Op::GrByName);
    q.str("devs");
    const std::string req = frame_of(q);
    assert_false(w.handler->cached(req, Peer{}).has_value());
    Reply first = w.handler->handle(req, Peer{});
    assert_int_equal(w.cache.stats().misses, 1);
    const int queries = w.db.queries;
    auto hit = w.handler->cached(req, Peer{});
    assert_true(hit.has_value());
    assert_true(hit->frame == first.frame);
    assert_false(hit->close);
    assert_int_equal(w.db.queries, queries);
    assert_int_equal(w.cache.stats().hits, 1);
    assert_int_equal(w.cache.stats().misses, 1);
    // Negative answers too.
    proto::Writer n(Op::PwByName);
    n.str("ghost");
    const std::string neg = frame_of(n);
    Reply none = w.handler->handle(neg, Peer{});
    auto neg_hit = w.handler->cached(neg, Peer{});
    assert_true(neg_hit.has_value() && neg_hit->frame == none.frame);
    // Never a password check, a flush or a malformed frame.
    proto::Writer a(Op::Authenticate);
    a.str("alice");
    a.str("alice-pw");
    a.str("svc");
    a.str("");
    assert_false(w.handler->cached(frame_of(a), Peer{}).has_value());
    proto::Writer f(Op::Flush);
    assert_false(w.handler->cached(frame_of(f), Peer{}).has_value());
    std::string bad_version = req;
    bad_version[0] = char(proto::kProtocolVersion + 1);
    assert_false(w.handler->cached(bad_version, Peer{}).has_value());
    assert_false(w.handler->cached(std::string_view(req).substr(0, 2), Peer{}).has_value());
    // After a flush the loop has nothing to answer.
    w.cache.flush();
    assert_false(w.handler->cached(req, Peer{}).has_value());
}

// While the database cannot be reached: an expired cached answer is given
// (not while it answers), and a user who logged in online logs in offline
// ([offline]), with the throttle and [access] as online; a user seen
// inactive loses the record.
void test_stale_and_offline(void**) {
    char tmpl[] = "/tmp/djtest-offline-XXXXXX";
    const std::filesystem::path dir = mkdtemp(tmpl);
    World w([&](Config& c) {
        c.offline.cache_credentials = true;
        c.otp.enabled = true;
        c.offline.file = (dir / "offline").string();
        c.throttle.deny = 3;
        c.access.services["ops-only"] = {"ops"};
    });
    auto stat_line = [&](const char* key) {
        return w.handler->stats_text().find(std::string("\n") + key) != std::string::npos;
    };
    // Stale lookups.
    proto::Writer q(Op::PwByName);
    q.str("alice");
    const auto& f = q.finish();
    const std::string key(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
    assert_int_equal(w.by_name(Op::PwByName, "alice"), Status::Ok);
    auto fresh = w.cache.get_stale(key);
    assert_true(fresh.has_value());
    w.cache.put(key, *fresh, true, Cache::Clock::now() - std::chrono::seconds(120));   // expired
    w.db.down = true;
    assert_int_equal(w.by_name(Op::PwByName, "alice"), Status::Ok);         // stale
    assert_int_equal(w.by_name(Op::PwByName, "dave"), Status::Unavailable); // never seen
    assert_true(stat_line("stale_answers 1\n"));
    w.db.down = false;
    const int before = w.db.queries;
    assert_int_equal(w.by_name(Op::PwByName, "alice"), Status::Ok);         // read again
    assert_true(w.db.queries > before);

    // Offline logins.
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);   // online: kept
    assert_true(stat_line("offline_records 1\n"));
    w.db.down = true;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Ok);
    // A service that asks for a one-time code: only the database can check
    // one, so no offline login skips it.
    assert_int_equal(w.auth("alice", "alice-pw", 0, "svc", proto::kOtpIfEnrolled), Status::Unavailable);
    assert_int_equal(w.auth("alice", "alice-pw", 0, "svc", proto::kOtpRequired), Status::Unavailable);
    assert_int_equal(w.auth("dave", "dave-pw"), Status::Unavailable);          // no online login
    assert_int_equal(w.auth("alice", "alice-pw", 0, "ops-only"), Status::Ok);  // in ops then
    assert_int_equal(w.account("alice", {"devs"}, proto::kRequireStaff, {}), Status::Ok);
    assert_int_equal(w.account("alice", {"empty"}, 0, {}), Status::PermDenied);
    assert_int_equal(w.account("alice", {}, proto::kRequireSuperuser, {}), Status::PermDenied);
    assert_int_equal(w.account("alice", {}, 0, {"auth.view_group"}), Status::Unavailable);  // not kept
    assert_int_equal(w.account("dave", {}, 0, {}), Status::Unavailable);
    for (int i = 0; i < 3; ++i) assert_int_equal(w.auth("alice", "wrong"), Status::WrongPassword);
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Throttled);
    assert_true(stat_line("offline_logins 2\n"));
    // The file survives a new handler (a restart).
    w.handler = std::make_unique<Handler>(w.cfg, w.db, w.hashers, w.cache, AuthClients(), 100);
    assert_true(stat_line("offline_records 1\n"));
    // Seen inactive online: dropped; offline then as without a record.
    w.db.down = false;
    w.db.users[0].is_active = false;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::NoUser);
    assert_true(stat_line("offline_records 0\n"));
    w.db.down = true;
    assert_int_equal(w.auth("alice", "alice-pw"), Status::Unavailable);
    std::filesystem::remove_all(dir);
}

void test_cache_bounds(void**) {
    Cache c(std::chrono::seconds(10), std::chrono::seconds(1), 3, 1000);
    auto t0 = Cache::Clock::now();
    std::vector<uint8_t> v(10, 1);
    c.put("a", v, true, t0);
    c.put("b", v, true, t0);
    c.put("c", v, true, t0);
    assert_true(c.get("a", t0).has_value());   // a is now most recent
    c.put("d", v, true, t0);                    // evicts b
    assert_false(c.get("b", t0).has_value());
    assert_true(c.get("a", t0).has_value());
    c.put("n", v, false, t0);
    assert_true(c.get("n", t0 + std::chrono::milliseconds(500)).has_value());
    assert_false(c.get("n", t0 + std::chrono::seconds(2)).has_value());   // negative lifetime
    assert_false(c.get("a", t0 + std::chrono::seconds(11)).has_value());  // positive lifetime
    c.put("big", std::vector<uint8_t>(2000), true, t0);                   // over max_bytes: not kept
    assert_false(c.get("big", t0).has_value());
    c.flush();
    assert_int_equal(c.stats().entries, 0);
}

// Which cached answers each trigger payload drops (daemon/cache_tags.h).
void test_tags_of_change(void**) {
    using T = Cache::Tags;
    auto sorted = [](std::optional<T> t) {
        assert_true(t.has_value());
        std::sort(t->begin(), t->end());
        return *t;
    };
    auto expect = [&](const char* payload, T want) {
        std::sort(want.begin(), want.end());
        assert_true(sorted(tags_of_change(payload)) == want);
    };
    expect("user:42", {cache_tag::user(42), cache_tag::groups(), cache_tag::user_pages(), cache_tag::not_found()});
    expect("group:7", {cache_tag::group(7), cache_tag::group_pages(), cache_tag::access(), cache_tag::not_found()});
    expect("key:42", {cache_tag::keys(42)});
    expect("member:42:7", {cache_tag::memberships(42), cache_tag::group(7), cache_tag::group_pages()});
    expect("perm:user:42", {});
    expect("perm:group:7", {});
    // Everything goes: TRUNCATE, and whatever this daemon cannot read.
    for (const char* all : {"all", "", "user:", "user:-1", "user:4x", "member:1", "member:1:", "member::2",
                            "group:99999999999999999999", "key:", "key:x", "USER:1"})
        assert_false(tags_of_change(all).has_value());
}

// The lookups tag what they cache: a change of one user drops that user's
// answers and the group answers, and leaves the other users' answers.
void test_lookups_tagged(void**) {
    World w;
    auto ask = [&](Op op, const std::string& name) {
        proto::Writer req(op);
        req.str(name);
        const auto& f = req.finish();
        return w.handler->handle(std::string(f.begin() + 4, f.end()), Peer{});
    };
    ask(Op::PwByName, "alice");
    ask(Op::PwByName, "dave");
    ask(Op::GrByName, "devs");
    ask(Op::PwByName, "nosuchuser");
    ask(Op::GroupsOfUser, "dave");
    assert_int_equal(w.cache.stats().entries, 5);
    const int queries = w.db.queries;
    Invalidation inv(w.cache);
    inv.notified({"user:1"});  // alice
    // alice, the group and the negative answer went; dave's answers stayed.
    assert_int_equal(w.cache.stats().entries, 2);
    ask(Op::PwByName, "dave");
    ask(Op::GroupsOfUser, "dave");
    assert_int_equal(w.db.queries, queries);
    // A membership of dave's in "ops" (2): his groups go, his passwd entry stays.
    inv.notified({"member:7:2"});
    assert_int_equal(w.cache.stats().entries, 1);
    // A group dave is in (3): his groups would go again.
    ask(Op::GroupsOfUser, "dave");
    inv.notified({"group:3"});
    assert_int_equal(w.cache.stats().entries, 1);
    inv.notified({"perm:user:1"});
    assert_int_equal(w.cache.stats().entries, 1);
    inv.notified({"all"});
    assert_int_equal(w.cache.stats().entries, 0);
}

void test_malformed(void**) {
    World w;
    Peer p;
    p.uid = 0;
    auto status_of = [&](const std::string& frame) {
        Reply r = w.handler->handle(frame, p);
        return std::pair<Status, bool>(Status(r.frame[6]), r.close);
    };
    assert_true(status_of(std::string("\x01", 1)).second);                       // short header
    auto bv = status_of(std::string("\x01\x01\x00\x00", 4));   // version 1: before [access]
    assert_int_equal(bv.first, Status::BadVersion);
    assert_true(bv.second);
    assert_int_equal(status_of(std::string("\x02\x63\x00\x00", 4)).first, Status::BadRequest);   // unknown op
    assert_int_equal(status_of(std::string("\x02\x0a\x00\x00\x00\x00\x00\x09" "ab", 10)).first, Status::BadRequest);
    assert_int_equal(status_of(std::string("\x02\x01\x00\x00" "x", 5)).first, Status::BadRequest);  // trailing
}

void test_names(void**) {
    assert_true(names::nss_ok("alice"));
    assert_true(names::nss_ok("zo\xc3\xab"));
    assert_true(names::nss_ok("a.b@c"));
    for (const char* bad : {"", "a:b", "a,b", "a b", "a\tb", "-x", "+x", ".", "..", "a/b", "a\x7f"})
        assert_false(names::nss_ok(bad));
    assert_false(names::nss_ok(std::string(256, 'a')));
    NssConfig cfg;
    cfg.group_prefix = "dj-";
    cfg.home = "/srv/%u/%U/%i/%%/%x";
    Entries e(cfg, 100);
    assert_string_equal(e.group_name({1, "devs"})->c_str(), "dj-devs");
    assert_string_equal(e.django_group_name("dj-devs")->c_str(), "devs");
    assert_false(e.django_group_name("devs").has_value());
    db::UserRow u;
    u.id = 7;
    u.username = "al";
    assert_string_equal(e.passwd(u)->dir.c_str(), "/srv/al/200007/7/%/%x");
}

// --- the trust boundary ------------------------------------------------------------

// Django users and groups named like the host's own, or like a privileged
// group of any distribution, or with a local id, are never served.
void test_host_names_hidden(void**) {
    World w(
        [](Config& c) {
            c.nss.gid_max = 200000 + 20000;
        },
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
        "squatter:x:200007:100::/:/bin/sh\n",
        "root:x:0:\nusers:x:100:\nops:x:50:\nlocalgid:x:200004:\n");
    w.db.groups.push_back({5, "sudo"});
    w.db.groups.push_back({6, "Wheel"});
    w.db.groups.push_back({10000, "docker"});
    w.db.membership.insert({7, 5});
    // alice: a local user name; dave (id 7): his uid 200007 is a local uid.
    for (const char* user : {"alice", "dave"}) {
        assert_int_equal(w.auth(user, (std::string(user) + "-pw").c_str()), Status::NoUser);
        assert_int_equal(w.account(user, {}, 0, {}), Status::NoUser);
        assert_int_equal(w.by_name(Op::PwByName, user), Status::NotFound);
        assert_int_equal(w.by_name(Op::GroupsOfUser, user), Status::NotFound);
        w.cfg.passwords.allow_change = true;
        assert_int_equal(w.change(user, "x", "", proto::kCheckOnly), Status::NoUser);
    }
    assert_int_equal(w.by_id(Op::PwByUid, 200001), Status::NotFound);
    assert_int_equal(w.by_id(Op::PwByUid, 200007), Status::NotFound);
    // "ops" is a local group; sudo and Wheel are reserved (any case); gid
    // 200004 is a local gid (the Django group "empty").
    for (const char* group : {"ops", "sudo", "Wheel", "wheel", "empty", "docker"})
        assert_int_equal(w.by_name(Op::GrByName, group), Status::NotFound);
    for (uint32_t gid : {200002u, 200004u, 200005u, 200006u, 210000u})
        assert_int_equal(w.by_id(Op::GrByGid, gid), Status::NotFound);
    // devs is served, without its hidden members.
    assert_int_equal(w.group_named("devs").members.size(), 0);   // alice local, dave's uid local, bob inactive
    // Enumeration shows none of them.
    proto::Writer pl(Op::PwList);
    pl.u32(0);
    pl.u32(100);
    auto pla = w.call(pl);
    proto::Reader plr(pla.frame);
    for (uint32_t n = plr.u32(); n > 0; --n) {
        auto p = plr.passwd();
        assert_true(p.name != "alice" && p.name != "dave");
    }
    proto::Writer gl(Op::GrList);
    gl.u32(0);
    gl.u32(100);
    auto gla = w.call(gl);
    proto::Reader glr(gla.frame);
    std::vector<std::string> listed;
    for (uint32_t n = glr.u32(); n > 0; --n) listed.push_back(glr.group().name);
    assert_true(listed == std::vector<std::string>({"devs", "fargroup"}));
    // A required group that is hidden counts for nothing.
    assert_int_equal(w.account("erin", {"sudo"}, 0, {}), Status::PermDenied);
}

// group_prefix is the way out: the Django group sudo is served as dj-sudo.
void test_host_names_prefix(void**) {
    World w([](Config& c) { c.nss.group_prefix = "dj-"; });
    w.db.groups.push_back({5, "sudo"});
    w.db.membership.insert({8, 5});
    assert_int_equal(w.by_name(Op::GrByName, "dj-sudo"), Status::Ok);
    assert_int_equal(w.by_name(Op::GrByName, "sudo"), Status::NotFound);
    assert_int_equal(w.account("erin", {"dj-sudo"}, 0, {}), Status::Ok);
    assert_int_equal(w.account("erin", {"sudo"}, 0, {}), Status::Ok);   // its Django name
}

// A user added to the host after the daemon started (and after its Django
// namesake was cached) is hidden from then on.
void test_host_names_refresh(void**) {
    World w;
    assert_int_equal(w.by_name(Op::PwByName, "erin"), Status::Ok);
    proto::Writer q(Op::PwByName);
    q.str("erin");
    auto& f = q.finish();
    std::string frame(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
    assert_true(w.handler->cached(frame, Peer{}).has_value());
    w.write_host_files("root:x:0:0:root:/root:/bin/sh\nerin:x:1001:1001::/home/erin:/bin/sh\n",
                       "root:x:0:\nusers:x:100:\n");
    w.handler->refresh_host_names();
    assert_false(w.handler->cached(frame, Peer{}).has_value());
    assert_int_equal(w.by_name(Op::PwByName, "erin"), Status::NotFound);
    assert_int_equal(w.auth("erin", "erin-pw"), Status::NoUser);
    // Unreadable files keep what was known: erin stays hidden.
    std::filesystem::remove(w.host_dir / "passwd");
    w.handler->refresh_host_names();
    assert_int_equal(w.by_name(Op::PwByName, "erin"), Status::NotFound);
}

// [access]: per PAM service, nobody by default, "*" for every active user,
// Django group names or their NSS names; superusers get no bypass.
void test_access_rules(void**) {
    World w([](Config& c) {
        c.nss.group_prefix = "dj-";
        c.access.default_rule = {};
        c.access.services["sshd"] = {"devs"};
        c.access.services["web"] = {"*"};
        c.access.services["ftp"] = {"dj-ops"};
        c.access.services["closed"] = {};
    });
    // Listed group, by Django name and by NSS name.
    assert_int_equal(w.auth("alice", "alice-pw", 0, "sshd"), Status::Ok);
    assert_int_equal(w.auth("alice", "alice-pw", 0, "SSHD"), Status::Ok);   // libpam lower-cases
    assert_int_equal(w.auth("alice", "alice-pw", 0, "ftp"), Status::Ok);
    assert_int_equal(w.account("alice", {}, 0, {}, "sshd"), Status::Ok);
    // Outside the list: like an unknown user to auth, PermDenied to account.
    assert_int_equal(w.auth("erin", "erin-pw", 0, "sshd"), Status::NoUser);
    assert_int_equal(w.auth("erin", "wrong", 0, "sshd"), Status::NoUser);
    assert_int_equal(w.account("erin", {}, 0, {}, "sshd"), Status::PermDenied);
    assert_int_equal(w.auth("boss", "boss-pw", 0, "sshd"), Status::NoUser);   // superuser: no bypass
    assert_int_equal(w.account("boss", {}, proto::kRequireSuperuser, {}, "sshd"), Status::PermDenied);
    // "*": every active user; inactive ones still not.
    assert_int_equal(w.auth("erin", "erin-pw", 0, "web"), Status::Ok);
    assert_int_equal(w.account("erin", {}, 0, {}, "web"), Status::Ok);
    assert_int_equal(w.account("bob", {}, 0, {}, "web"), Status::Inactive);
    // An empty rule, an unlisted service under an empty default, no service.
    for (const char* service : {"closed", "login", ""}) {
        assert_int_equal(w.auth("alice", "alice-pw", 0, service), Status::NoUser);
        assert_int_equal(w.account("alice", {}, 0, {}, service), Status::PermDenied);
    }
    // Password changes follow the same rule.
    w.cfg.passwords.allow_change = true;
    assert_int_equal(w.change("erin", "erin-pw", "", proto::kCheckOnly, 0, "sshd"), Status::NoUser);
    assert_int_equal(w.change("erin", "erin-pw", "", proto::kCheckOnly, 0, "web"), Status::Ok);
    // The module's own require_group narrows further.
    assert_int_equal(w.account("alice", {"ops"}, 0, {}, "web"), Status::Ok);
    assert_int_equal(w.account("erin", {"ops"}, 0, {}, "web"), Status::PermDenied);
}

void test_id_ranges(void**) {
    assert_true(id_range_problems("uid", 200001, 2147483647, {0, 1000, 65534}).empty());
    auto p = id_range_problems("uid", 60001, 70000, {0, 1000, 65534, 60010, 69000});
    assert_int_equal(p.size(), 3);   // nobody, systemd's dynamic range, 2 local uids
    assert_non_null(strstr(p[0].c_str(), "65534"));
    assert_non_null(strstr(p[1].c_str(), "61184-65519"));
    assert_non_null(strstr(p[2].c_str(), "2 local uids (60010, ...)"));
    assert_int_equal(id_range_problems("gid", 1001, 2000, {1500}).size(), 1);
}

// AuthorizedKeys: root and [ssh] clients only, off until configured, the
// login rules of sshd, bad keys dropped, cached until a flush.
void test_authorized_keys(void**) {
    const std::string ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILfnoNin+FVLedC5J6P6eC4u3t1F6BbL7i2M4IZKaBkR";
    auto keys_of = [](World& w, const char* user, uid_t uid, std::vector<std::string>* out = nullptr) {
        proto::Writer q(Op::AuthorizedKeys);
        q.str(user);
        auto a = w.call(q, uid);
        proto::Reader rd(a.frame);
        if (a.status == Status::Ok) {
            auto l = rd.strs();
            assert_true(rd.at_end());
            if (out) *out = l;
        }
        return a.status;
    };
    {
        World off;
        assert_int_equal(keys_of(off, "alice", 0), Status::Disabled);
    }
    World w([](Config& c) {
        c.ssh.authorized_keys = true;
        c.access.default_rule = {};
        c.access.services["sshd"] = {"devs"};
    });
    AuthClients sshd_user;
    sshd_user.allow_uid(65534);
    w.handler->set_ssh_clients(sshd_user);
    w.db.keys = {{1, ed + " one"},
                 {1, ed + " two\n" + ed + " smuggled"},
                 {1, "no-pty " + ed + " with option"},
                 {1, "ssh-dss AAAAB3NzaC1kc3MAAACBAP"},
                 {2, ed + " bob's"},
                 {8, ed + " erin's"}};
    const int before = w.db.queries;
    for (uid_t uid : {uid_t(1000), uid_t(33)})  // an auth client is not an [ssh] client
        assert_int_equal(keys_of(w, "alice", uid), Status::Denied);
    assert_int_equal(w.db.queries, before);
    std::vector<std::string> got;
    assert_int_equal(keys_of(w, "alice", 65534, &got), Status::Ok);
    assert_int_equal(got.size(), 1);
    assert_string_equal(got[0].c_str(), (ed + " one").c_str());
    assert_int_equal(keys_of(w, "alice", 0, &got), Status::Ok);
    assert_int_equal(got.size(), 1);
    assert_int_equal(keys_of(w, "bob", 0), Status::NoUser);     // inactive
    assert_int_equal(keys_of(w, "erin", 0), Status::NoUser);    // not in [access] sshd
    assert_int_equal(keys_of(w, "ghost", 0), Status::NoUser);
    assert_int_equal(keys_of(w, "root", 0), Status::NoUser);    // the host's name
    assert_int_equal(keys_of(w, "dave", 0, &got), Status::Ok);  // allowed, no keys
    assert_true(got.empty());
    // Cached: the removed key stays until its change is seen ("key:1"),
    // which drops alice's answer and no other.
    w.db.keys.erase(1);
    w.db.keys.insert({7, ed + " dave's"});
    assert_int_equal(keys_of(w, "alice", 0, &got), Status::Ok);
    assert_int_equal(got.size(), 1);
    assert_true(w.cache.drop(*tags_of_change("key:1")) > 0);
    assert_int_equal(keys_of(w, "alice", 0, &got), Status::Ok);
    assert_true(got.empty());
    assert_int_equal(keys_of(w, "dave", 0, &got), Status::Ok);
    assert_true(got.empty());
    // A group renamed may change what [access] sshd lets in: every key answer goes.
    assert_true(w.cache.drop(*tags_of_change("group:3")) > 0);
    assert_int_equal(keys_of(w, "dave", 0, &got), Status::Ok);
    assert_int_equal(got.size(), 1);
    // Erin, left out, comes in with a membership.
    assert_int_equal(keys_of(w, "erin", 0), Status::NoUser);
    w.db.membership.insert({8, 1});
    assert_true(w.cache.drop(*tags_of_change("member:8:1")) > 0);
    assert_int_equal(keys_of(w, "erin", 0, &got), Status::Ok);
    assert_int_equal(got.size(), 1);
    {
        World opts([](Config& c) {
            c.ssh.authorized_keys = true;
            c.ssh.allowed_options = {"no-pty"};
        });
        opts.db.keys = {{1, "no-pty " + ed + " with option"}, {1, "command=\"id\" " + ed}};
        assert_int_equal(keys_of(opts, "alice", 0, &got), Status::Ok);
        assert_int_equal(got.size(), 1);
        assert_string_equal(got[0].c_str(), ("no-pty " + ed + " with option").c_str());
    }
}

}  // namespace

int main() {
    log::init(false, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_host_names_hidden),
        cmocka_unit_test(test_host_names_prefix),
        cmocka_unit_test(test_host_names_refresh),
        cmocka_unit_test(test_access_rules),
        cmocka_unit_test(test_id_ranges),
        cmocka_unit_test(test_no_rehash_unless_enabled),
        cmocka_unit_test(test_site_params),
        cmocka_unit_test(test_change_password),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_account_and_stats_callers),
        cmocka_unit_test(test_passwd_shaping),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_enumeration_paging),
        cmocka_unit_test(test_cache_and_flush),
        cmocka_unit_test(test_stale_and_offline),
        cmocka_unit_test(test_cached_answers),
        cmocka_unit_test(test_cache_bounds),
        cmocka_unit_test(test_tags_of_change),
        cmocka_unit_test(test_lookups_tagged),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_authorized_keys),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
