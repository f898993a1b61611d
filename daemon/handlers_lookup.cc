// Handler: the lookups NSS and the CLI ask for (users, groups, a user's
// groups), each answered from the cache when it holds the answer.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include <algorithm>

#include "daemon/cache_tags.h"
#include "daemon/log.h"

namespace dj {

using namespace handler_internal;

namespace {

// One page of an enumeration (PwList, GrList): the request is the last id
// the client has (a uid or gid) and how many it wants; the answer the
// entries after it, in id order, then whether more follow. Rows that cannot
// be served (a name NSS cannot carry, hidden by the host's names) are
// skipped, and reading goes on so that a page is never empty while entries
// remain; an entry that does not fit the response starts the next page
// (unless it is alone: then it is sent and may fail if it exceeds a frame).
//   rows_after(after_id, n)  the next n rows of the database by id
//   in_range(id)             whether the Django id maps into the uid/gid range
//   make(row)                the entry, or nothing when it cannot be served
//   size_of(entry), put(w, entry)
template <typename Entry, typename RowsAfter, typename InRange, typename Make, typename SizeOf, typename Put>
Status list_page(proto::Reader& r, proto::Writer& w, uint32_t id_base, RowsAfter rows_after, InRange in_range,
                 Make make, SizeOf size_of, Put put) {
    uint32_t after = r.u32();
    uint32_t max_items = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    const uint32_t page = std::clamp<uint32_t>(max_items, 1, kMaxPage);
    int64_t after_id = after <= id_base ? 0 : int64_t(after) - int64_t(id_base);
    std::vector<Entry> out;
    size_t bytes = 0;
    bool more = false;
    for (;;) {
        const uint32_t want = page - uint32_t(out.size());
        auto rows = rows_after(after_id, int(want));
        if (rows.empty()) break;
        bool beyond = false, full = false;
        for (auto& row : rows) {
            if (!in_range(row.id)) {
                beyond = true;  // ids are ordered: every further one is out of range too
                break;
            }
            std::optional<Entry> e = make(row);
            const size_t size = e ? size_of(*e) : 0;
            if (e && !out.empty() && bytes + size > kResponseBudget) {
                full = true;
                break;
            }
            after_id = row.id;
            if (!e) continue;
            bytes += size;
            out.push_back(std::move(*e));
        }
        if (beyond) break;
        if (full || out.size() >= page) {
            more = true;
            break;
        }
        if (rows.size() < want) break;
    }
    w.u32(uint32_t(out.size()));
    for (const auto& e : out) put(w, e);
    w.u32(more ? 1 : 0);
    return Status::Ok;
}

}  // namespace

Reply Handler::lookup(Op op, proto::Reader& r, std::string_view frame) {
    std::string key(frame);
    if (auto hit = cache_.get(key)) return Reply{std::move(*hit), false};
    const uint64_t read_at = cache_.generation();  // before the database is read
    proto::Writer w(op);
    Status s = Status::BadRequest;
    std::string stored;
    Cache::Tags tags;
    switch (op) {
        case Op::PwByName: s = pw_by_name(r, w, stored, tags); break;
        case Op::PwByUid: s = pw_by_uid(r, w, tags); break;
        case Op::PwList: s = pw_list(r, w, tags); break;
        case Op::GrByName: s = gr_by_name(r, w, stored, tags); break;
        case Op::GrByGid: s = gr_by_gid(r, w, tags); break;
        case Op::GrList: s = gr_list(r, w, tags); break;
        case Op::GroupsOfUser: s = groups_of_user(r, w, stored, tags); break;
        default: break;
    }
    if (s == Status::BadRequest) return status_only(op, s);
    // Whatever it found on the way, a negative answer is undone by any new
    // or renamed user or group.
    if (s != Status::Ok) tags = {cache_tag::not_found()};
    Reply reply = s == Status::Ok ? Reply{std::move(w.finish()), false} : status_only(op, s);
    if (s == Status::Ok && !stored.empty()) {
        // Found under another spelling (ALICE for alice): one cache entry per
        // user or group, the stored name's, so that spellings never disagree.
        proto::Writer canonical(op);
        canonical.str(stored);
        const auto& f = canonical.finish();
        std::string ckey(f.begin() + 4, f.end());
        if (ckey != key) {
            if (auto hit = cache_.get(ckey)) return Reply{std::move(*hit), false};
            cache_.put(ckey, reply.frame, true, Cache::Clock::now(), read_at, tags);
            return reply;
        }
    }
    cache_.put(key, reply.frame, s == Status::Ok, Cache::Clock::now(), read_at, tags);
    return reply;
}

Status Handler::pw_by_name(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    // A name the host's files hold (or reserve) is never served: no query,
    // so that it answers at once even while the database does not.
    if (const std::string_view n = names::without_trailing_spaces(name);
        !names::nss_ok(n) || host_.user_conflict(n, std::nullopt)) return Status::NotFound;
    auto u = db_.user_by_name(name);
    if (!u) return Status::NotFound;
    wipe(u->password);
    auto p = entries_.passwd(*u);
    if (!p) return Status::NotFound;
    stored = p->name;
    tags = {cache_tag::user(u->id)};
    w.passwd(*p);
    return Status::Ok;
}

Status Handler::pw_by_uid(proto::Reader& r, proto::Writer& w, Cache::Tags& tags) {
    uint32_t uid = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    auto id = entries_.user_id_of(uid);
    if (!id) return Status::NotFound;
    auto u = db_.user_by_id(*id);
    if (!u) return Status::NotFound;
    auto p = entries_.passwd(*u);
    if (!p) return Status::NotFound;
    tags = {cache_tag::user(u->id)};
    w.passwd(*p);
    return Status::Ok;
}

Status Handler::pw_list(proto::Reader& r, proto::Writer& w, Cache::Tags& tags) {
    tags = {cache_tag::user_pages()};
    return list_page<proto::Passwd>(
        r, w, cfg_.nss.uid_base, [&](int64_t after, int n) { return db_.users_after(after, n); },
        [&](int64_t id) { return entries_.uid_of(id).has_value(); },
        [&](const db::UserRow& u) { return entries_.passwd(u); },
        [](const proto::Passwd& p) { return p.name.size() + p.gecos.size() + p.dir.size() + p.shell.size() + 32; },
        [](proto::Writer& out, const proto::Passwd& p) { out.passwd(p); });
}

std::optional<proto::Group> Handler::make_group(const db::GroupRow& g) {
    auto gid = entries_.gid_of(g.id);
    auto name = entries_.group_name(g);
    if (!gid || !name) return std::nullopt;
    proto::Group out;
    out.name = *name;
    out.gid = *gid;
    for (auto& m : db_.active_members(g.id))
        if (entries_.user_visible(m.id, m.username)) out.members.push_back(std::move(m.username));
    return out;
}

Status Handler::gr_by_name(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    auto django = entries_.django_group_name(name);
    if (!django || host_.group_conflict(name, std::nullopt)) return Status::NotFound;
    auto g = db_.group_by_name(*django);
    if (!g) return Status::NotFound;
    auto grp = make_group(*g);
    if (!grp) return Status::NotFound;
    stored = grp->name;
    tags = {cache_tag::group(g->id), cache_tag::groups()};
    w.group(*grp);
    return Status::Ok;
}

Status Handler::gr_by_gid(proto::Reader& r, proto::Writer& w, Cache::Tags& tags) {
    uint32_t gid = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    auto id = entries_.group_id_of(gid);
    if (!id) return Status::NotFound;
    auto g = db_.group_by_id(*id);
    if (!g) return Status::NotFound;
    auto grp = make_group(*g);
    if (!grp) return Status::NotFound;
    tags = {cache_tag::group(g->id), cache_tag::groups()};
    w.group(*grp);
    return Status::Ok;
}

Status Handler::gr_list(proto::Reader& r, proto::Writer& w, Cache::Tags& tags) {
    tags = {cache_tag::group_pages(), cache_tag::groups()};
    return list_page<proto::Group>(
        r, w, cfg_.nss.gid_base, [&](int64_t after, int n) { return db_.groups_after(after, n); },
        [&](int64_t id) { return entries_.gid_of(id).has_value(); },
        [&](const db::GroupRow& g) { return make_group(g); },
        [](const proto::Group& g) {
            size_t size = g.name.size() + 16;
            for (const auto& m : g.members) size += m.size() + 4;
            return size;
        },
        [](proto::Writer& out, const proto::Group& g) { out.group(g); });
}

Status Handler::groups_of_user(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    // initgroups asks for local users too (root at every sudo): see pw_by_name.
    if (const std::string_view n = names::without_trailing_spaces(name);
        !names::nss_ok(n) || host_.user_conflict(n, std::nullopt)) return Status::NotFound;
    auto u = db_.user_by_name(name);
    if (!u || !entries_.passwd(*u)) return Status::NotFound;
    wipe(u->password);
    stored = u->username;
    tags = {cache_tag::user(u->id), cache_tag::memberships(u->id)};
    std::vector<uint32_t> gids;
    // Django's groups_for_user: no groups for an inactive user. Every Django
    // group of the user tags the answer, served or not: a rename may make a
    // group servable.
    if (u->is_active)
        for (const auto& g : db_.groups_of_user(u->id)) {
            tags.push_back(cache_tag::group(g.id));
            if (auto gid = entries_.gid_of(g.id); gid && entries_.group_name(g)) gids.push_back(*gid);
        }
    w.u32(uint32_t(gids.size()));
    for (uint32_t g : gids) w.u32(g);
    return Status::Ok;
}

}  // namespace dj
