// Lookups against django-authd; see lookup.h.
#include "nss/lookup.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

#include "common/client.h"
#include "common/names.h"
#include "common/shared_cache.h"

extern "C" {
__attribute__((visibility("default"))) int _nss_django_enablelookups = 1;
}

namespace dj::nss {
namespace {

constexpr int kTimeoutMs = 2000;
// After the daemon stayed silent for a whole timeout, the next lookups in this
// process fail at once for this long, so that a program making many lookups
// (id, ls -l) does not wait two seconds for each while the daemon hangs.
// (Other processes learn it from the daemon's heartbeat: once it is stale,
// client::call fails at once everywhere; see common/shared_cache.h.)
constexpr int64_t kSilentBackoffMs = 2000;
// How long a kept reply may serve glibc's ERANGE retry.
constexpr int64_t kKeepMs = 1000;

std::atomic<int64_t> g_silent_until{0};

thread_local bool t_inside = false;

// The last by-key reply on this thread. `kept` marks it as the answer for
// glibc's retry after ERANGE; otherwise it is dropped when the entry point
// returns (see ~Reentry).
struct Reply {
    proto::Op op{};
    std::string key;
    std::string frame;
    int64_t at = 0;
    bool valid = false;
    bool kept = false;
};
thread_local Reply t_last;

int64_t now_ms() noexcept {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Sends `req` and returns the reply frame when the daemon answered at all.
// A warm answer comes from the daemon's shared cache file when it has one.
bool ask(proto::Writer& req, std::string& frame) {
    const std::vector<uint8_t>& request = req.finish();
    if (shared_cache::lookup(shared_cache::request_key(request), frame)) return true;
    const int64_t start = now_ms();
    if (start < g_silent_until.load(std::memory_order_relaxed)) return false;
    client::Options opt;
    opt.timeout_ms = kTimeoutMs;
    client::Response r = client::call(opt, request);
    if (r.transport != client::Transport::Ok) {
        if (now_ms() - start >= kTimeoutMs - 50)
            g_silent_until.store(now_ms() + kSilentBackoffMs, std::memory_order_relaxed);
        return false;
    }
    frame = std::move(r.frame);
    return true;
}

// A by-key request, answered from the kept reply when it matches. The frame
// stays in t_last; `frame` points at it.
bool ask_keyed(proto::Op op, std::string_view key, proto::Writer& req, std::string_view& frame) {
    if (t_last.valid && t_last.kept) {
        t_last.kept = false;
        if (t_last.op == op && t_last.key == key && now_ms() - t_last.at <= kKeepMs) {
            frame = t_last.frame;
            return true;
        }
    }
    t_last.valid = false;
    if (!ask(req, t_last.frame)) return false;
    t_last.op = op;
    t_last.key.assign(key);
    t_last.valid = true;  // `at` is stamped by keep_last_reply, the only reader of it
    frame = t_last.frame;
    return true;
}

Result status_result(proto::Status s) noexcept {
    switch (s) {
        case proto::Status::Ok: return Result::Ok;
        case proto::Status::NotFound:
        case proto::Status::NoUser:
        case proto::Status::BadRequest:  // a name the daemon refuses is no one's name
            return Result::NotFound;
        default: return Result::Unavailable;
    }
}

// Only a name the daemon could serve is worth a request (common/names.h; the
// daemon finds "alice " as alice where the database ignores trailing spaces).
bool name_ok(const char* name) noexcept {
    if (name == nullptr) return false;
    const std::string_view n(name, ::strnlen(name, proto::kMaxString + 1));
    return n.size() <= proto::kMaxString && names::nss_ok(names::without_trailing_spaces(n));
}

template <typename Rec, typename ReadFn>
Result one_record(proto::Op op, std::string_view key, proto::Writer& req, Rec& out, ReadFn read) {
    std::string_view frame;
    if (!ask_keyed(op, key, req, frame)) return Result::Unavailable;
    proto::Reader rd(frame);
    Result res = status_result(rd.status());
    if (res != Result::Ok) return res;
    out = read(rd);
    return rd.at_end() ? Result::Ok : Result::Unavailable;
}

}  // namespace

bool lookups_enabled() noexcept {
    if (_nss_django_enablelookups == 0) return false;
    const char* loops = ::secure_getenv("DJANGO_AUTH_NSS_LOOPS");
    if (loops != nullptr && std::strcmp(loops, "NO") == 0) return false;
    return !t_inside;
}

Reentry::Reentry() noexcept : entered_(!t_inside) {
    if (entered_) t_inside = true;
}

Reentry::~Reentry() {
    if (!entered_) return;
    t_inside = false;
    if (!t_last.kept) {
        t_last.valid = false;
        // Do not keep a big group's reply alive in every thread.
        if (t_last.frame.capacity() > 64 * 1024) std::string().swap(t_last.frame);
    }
}

Result pw_by_name(const char* name, proto::PasswdView& out) {
    if (!name_ok(name)) return Result::NotFound;
    proto::Writer req(proto::Op::PwByName);
    req.str(name);
    return one_record(proto::Op::PwByName, name, req, out,
                      [](proto::Reader& rd) { return rd.passwd_view(); });
}

Result pw_by_uid(uid_t uid, proto::PasswdView& out) {
    proto::Writer req(proto::Op::PwByUid);
    req.u32(uid);
    return one_record(proto::Op::PwByUid, std::to_string(uid), req, out,
                      [](proto::Reader& rd) { return rd.passwd_view(); });
}

Result gr_by_name(const char* name, proto::GroupView& out) {
    if (!name_ok(name)) return Result::NotFound;
    proto::Writer req(proto::Op::GrByName);
    req.str(name);
    return one_record(proto::Op::GrByName, name, req, out,
                      [](proto::Reader& rd) { return rd.group_view(); });
}

Result gr_by_gid(gid_t gid, proto::GroupView& out) {
    proto::Writer req(proto::Op::GrByGid);
    req.u32(gid);
    return one_record(proto::Op::GrByGid, std::to_string(gid), req, out,
                      [](proto::Reader& rd) { return rd.group_view(); });
}

Result groups_of_user(const char* user, std::vector<uint32_t>& gids) {
    if (!name_ok(user)) return Result::NotFound;
    proto::Writer req(proto::Op::GroupsOfUser);
    req.str(user);
    std::string frame;
    if (!ask(req, frame)) return Result::Unavailable;
    proto::Reader rd(frame);
    Result res = status_result(rd.status());
    if (res != Result::Ok) return res;
    uint32_t n = rd.u32();
    if (!rd.ok() || n > proto::kMaxListItems || (frame.size() - proto::kHeaderSize) / 4 < n)
        return Result::Unavailable;
    gids.clear();
    gids.reserve(n);
    for (uint32_t i = 0; i < n; ++i) gids.push_back(rd.u32());
    return rd.at_end() ? Result::Ok : Result::Unavailable;
}

template <typename Rec, typename ReadFn>
static Result page(proto::Op op, uint32_t after, uint32_t max_items, std::vector<Rec>& out,
                   bool& more, ReadFn read) {
    proto::Writer req(op);
    req.u32(after);
    req.u32(max_items);
    std::string frame;
    if (!ask(req, frame)) return Result::Unavailable;
    proto::Reader rd(frame);
    Result res = status_result(rd.status());
    if (res != Result::Ok) return res;
    uint32_t n = rd.u32();
    // Every record takes at least 4 bytes; a count the frame cannot hold lies.
    if (!rd.ok() || n > proto::kMaxListItems || (frame.size() - proto::kHeaderSize) / 4 < n)
        return Result::Unavailable;
    out.clear();
    out.reserve(n);
    for (uint32_t i = 0; i < n && rd.ok(); ++i) out.push_back(read(rd));
    more = rd.u32() != 0;
    return rd.at_end() ? Result::Ok : Result::Unavailable;
}

Result pw_page(uint32_t after, uint32_t max_items, std::vector<proto::Passwd>& out, bool& more) {
    return page(proto::Op::PwList, after, max_items, out, more,
                [](proto::Reader& rd) { return rd.passwd(); });
}

Result gr_page(uint32_t after, uint32_t max_items, std::vector<proto::Group>& out, bool& more) {
    return page(proto::Op::GrList, after, max_items, out, more,
                [](proto::Reader& rd) { return rd.group(); });
}

void keep_last_reply() noexcept {
    if (!t_last.valid) return;
    t_last.kept = true;
    t_last.at = now_ms();
}

}  // namespace dj::nss
