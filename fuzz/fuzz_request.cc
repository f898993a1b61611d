// Fuzz target: django-authd's request decoding and handling
// (daemon/handlers*.cc, entries.cc, cache.cc) over an in-memory database.
// The first input byte picks the caller (root, an auth client, anyone); the
// rest is one request frame without its length prefix. Every answer must be a
// well-formed response frame that repeats the request's op.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "passwords/hashers.h"
#include "common/protocol.h"
#include "daemon/cache.h"
#include "daemon/db.h"
#include "daemon/handlers.h"

using namespace dj;

namespace {

struct MemDb : db::Database {
    std::vector<db::UserRow> users;
    std::vector<db::GroupRow> groups;
    std::vector<std::pair<int64_t, int64_t>> membership;  // user, group

    std::optional<db::UserRow> user_by_name(std::string_view n) override {
        for (auto& u : users)
            if (u.username == n) return u;
        return std::nullopt;
    }
    std::optional<db::UserRow> user_by_id(int64_t id) override {
        for (auto& u : users)
            if (u.id == id) return u;
        return std::nullopt;
    }
    std::vector<db::UserRow> users_after(int64_t after, int limit) override {
        std::vector<db::UserRow> out;
        for (auto& u : users)
            if (u.id > after && int(out.size()) < limit) out.push_back(u);
        return out;
    }
    std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t after, int limit) override {
        std::vector<std::pair<int64_t, std::string>> out;
        for (auto& u : users)
            if (u.id > after && int(out.size()) < limit) out.emplace_back(u.id, u.password);
        return out;
    }
    std::optional<db::GroupRow> group_by_name(std::string_view n) override {
        for (auto& g : groups)
            if (g.name == n) return g;
        return std::nullopt;
    }
    std::optional<db::GroupRow> group_by_id(int64_t id) override {
        for (auto& g : groups)
            if (g.id == id) return g;
        return std::nullopt;
    }
    std::vector<db::GroupRow> groups_after(int64_t after, int limit) override {
        std::vector<db::GroupRow> out;
        for (auto& g : groups)
            if (g.id > after && int(out.size()) < limit) out.push_back(g);
        return out;
    }
    std::vector<db::MemberRow> active_members(int64_t gid) override {
        std::vector<db::MemberRow> out;
        for (auto& [u, g] : membership)
            if (g == gid)
                for (auto& row : users)
                    if (row.id == u && row.is_active) out.push_back({row.id, row.username});
        return out;
    }
    std::vector<db::GroupRow> groups_of_user(int64_t uid) override {
        std::vector<db::GroupRow> out;
        for (auto& [u, g] : membership)
            if (u == uid)
                for (auto& row : groups)
                    if (row.id == g) out.push_back(row);
        return out;
    }
    std::vector<std::string> permissions_of_user(int64_t uid) override {
        if (uid == 1) return {"auth.add_user", "auth.view_group"};
        return {};
    }
    std::vector<std::string> keys_of_user(int64_t uid) override {
        if (uid == 1) return {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a",
                              "no-pty,command=\"x\" ssh-ed25519 AAAA", "ssh-rsa AAAA\nssh-rsa AAAA"};
        return {};
    }
    void set_password(int64_t id, std::string_view enc) override {
        for (auto& u : users)
            if (u.id == id) u.password = std::string(enc);
    }
    void set_last_login(int64_t) override {}
    void ping() override {}
    std::string describe() const override { return "memory"; }
};

HashParams cheap_params() {
    HashParams p;
    p.pbkdf2_iterations = 10;
    return p;
}

struct World {
    Config cfg;
    MemDb db;
    Hashers hashers{std::vector<std::string>{"pbkdf2_sha256", "pbkdf2_sha1"}, cheap_params()};
    Cache cache{std::chrono::seconds(60), std::chrono::seconds(10), 64, 1 << 16};
    std::unique_ptr<Handler> handler;

    World() {
        cfg.passwords.allow_change = true;
        cfg.passwords.pbkdf2_iterations = 10;  // a flush reads the site's: keep them cheap
        cfg.nss.uid_max = 200000 + 1000;
        cfg.nss.gid_max = 200000 + 1000;
        // Some services open to all, one to a group, the rest closed: every
        // branch of the [access] decision is reachable.
        cfg.access.services["login"] = {"*"};
        cfg.access.services["sshd"] = {"devs", "dj-ops"};
        auto add = [&](int64_t id, const char* name, const char* pw, bool active, bool staff, bool super) {
            db::UserRow u;
            u.id = id;
            u.username = name;
            u.password = pw ? hashers.encode_with("pbkdf2_sha256", pw, 10) : "!unusable";
            u.is_active = active;
            u.is_staff = staff;
            u.is_superuser = super;
            u.first_name = "First";
            u.last_name = "Last";
            db.users.push_back(u);
        };
        add(1, "alice", "pw", true, true, false);
        add(2, "bob", "pw", false, false, false);
        add(3, "carol", nullptr, true, false, false);
        add(4, "root", "pw", true, true, true);
        add(5, "bad:name", "pw", true, false, false);
        add(6, "-dash", "pw", true, false, false);
        add(5000, "far", "pw", true, false, false);
        db.users[5].password = "md5$x$0123";   // an outdated, malformed value
        db.groups = {{1, "devs"}, {2, "ops"}, {3, "with space"}, {9000, "far"}};
        db.membership = {{1, 1}, {2, 1}, {5, 1}, {1, 2}, {4, 3}, {1, 9000}};
        AuthClients clients;
        clients.allow_uid(33);
        handler = std::make_unique<Handler>(cfg, db, hashers, cache, clients, 100);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World* w = new World;   // lives for the process, like the daemon's
    if (size < 1) return 0;
    Peer peer;
    static const uid_t uids[] = {0, 33, 1000, static_cast<uid_t>(-1)};
    peer.uid = uids[data[0] & 3];
    peer.pid = 1;
    if (data[0] & 4) w->cache.flush();
    std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
    Reply r = w->handler->handle(frame, peer);
    if (r.frame.size() < 4 + proto::kHeaderSize) abort();
    if (proto::read_be32(r.frame.data()) != r.frame.size() - 4) abort();
    if (r.frame.size() - 4 > proto::kMaxResponse) abort();
    proto::Reader rd(std::string_view(reinterpret_cast<const char*>(r.frame.data()) + 4, r.frame.size() - 4));
    if (!rd.header_ok()) abort();
    return 0;
}
