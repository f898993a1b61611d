#include "daemon/handlers.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "daemon/log.h"
#include "daemon/startup.h"

namespace dj {

using proto::Op;
using proto::Status;

namespace {

Reply status_only(Op op, Status s, bool close = false) {
    proto::Writer w(op, s);
    return Reply{std::move(w.finish()), close};
}

Reply with_text(Op op, Status s, std::string_view text) {
    proto::Writer w(op, s);
    w.str(text);
    return Reply{std::move(w.finish()), false};
}

// Wipes a string holding a password or hash when it goes out of scope.
struct Scrub {
    std::string& s;
    ~Scrub() { wipe(s); }
};

// Page sizes for enumeration, and the room left in a response frame.
constexpr uint32_t kMaxPage = 1000;
constexpr size_t kResponseBudget = proto::kMaxResponse - 64 * 1024;

}  // namespace

Handler::Handler(const Config& cfg, db::Database& db, Hashers& hashers, Cache& cache,
                 AuthClients clients, uint32_t primary_gid)
    : cfg_(cfg),
      db_(db),
      hashers_(hashers),
      rules_(cfg.passwords),
      cache_(cache),
      clients_(std::move(clients)),
      host_(cfg.nss),
      entries_(cfg.nss, primary_gid, &host_),
      started_(std::chrono::steady_clock::now()),
      throttle_(cfg.throttle) {
    choose_params(cfg_.passwords, nullptr, &params_text_);
}

bool Handler::is_auth_op(Op op) { return op == Op::Authenticate || op == Op::ChangePassword; }

bool Handler::is_lookup_op(Op op) {
    return op == Op::PwByName || op == Op::PwByUid || op == Op::PwList || op == Op::GrByName || op == Op::GrByGid ||
           op == Op::GrList || op == Op::GroupsOfUser;
}

Reply Handler::handle(std::string_view frame, const Peer& peer) {
    requests_++;
    proto::Reader r(frame);
    if (!r.ok()) return status_only(Op::Hello, Status::BadRequest, true);
    if (!r.header_ok()) {
        if (r.version() != proto::kProtocolVersion) return status_only(r.op(), Status::BadVersion, true);
        return status_only(r.op(), Status::BadRequest, true);
    }
    if (r.status() != Status::Ok) return status_only(r.op(), Status::BadRequest);
    Op op = r.op();
    if (log::debug_enabled())
        log::say(LOG_DEBUG, "request %s from uid %u pid %d, %zu bytes", proto::op_name(op), unsigned(peer.uid),
                 int(peer.pid), frame.size());
    try {
        // A name that became local since the last request is hidden now:
        // before a lookup or a check for a caller who may ask; not for one
        // about to be refused (the event loop answers those floods itself).
        if (is_lookup_op(op) || ((is_auth_op(op) || op == Op::Account) && clients_.allows(peer)))
            refresh_host_names();
        switch (op) {
            case Op::Hello: {
                if (!r.at_end()) return status_only(op, Status::BadRequest);
                proto::Writer w(op);
                w.str(kDaemonVersion);
                w.u32(proto::kProtocolVersion);
                return Reply{std::move(w.finish()), false};
            }
            case Op::Authenticate: return authenticate(r, peer);
            case Op::Account:
                // Staff, superuser, groups and permissions: for those who may log users in.
                if (!trusted_caller(op, peer)) return with_text(op, Status::Denied, "caller not allowed");
                return account(r);
            case Op::ChangePassword: return change_password(r, peer);
            case Op::PwByName:
            case Op::PwByUid:
            case Op::PwList:
            case Op::GrByName:
            case Op::GrByGid:
            case Op::GrList:
            case Op::GroupsOfUser: return lookup(op, r, frame);
            case Op::Flush:
                if (!r.at_end()) return status_only(op, Status::BadRequest);
                if (peer.uid != 0) {
                    denied_++;
                    log::say(LOG_WARNING, "flush refused: caller uid %u pid %d is not root", unsigned(peer.uid),
                             int(peer.pid));
                    return status_only(op, Status::Denied);
                }
                cache_.flush();
                log::say(LOG_INFO, "cache flushed by pid %d", int(peer.pid));
                refresh_site_params();
                return status_only(op, Status::Ok);
            case Op::Stats: {
                if (!r.at_end()) return status_only(op, Status::BadRequest);
                // The database's name and the counters are nobody else's business.
                if (!trusted_caller(op, peer)) return status_only(op, Status::Denied);
                return with_text(op, Status::Ok, stats_text());
            }
            case Op::ThrottleList:
            case Op::ThrottleReset: return throttle_op(op, r, peer);
        }
        return status_only(op, Status::BadRequest);
    } catch (const db::DbRefused&) {
        // The breaker is open: logged once when it opened.
        unavailable_++;
        if (log::debug_enabled()) log::say(LOG_DEBUG, "%s: database unavailable: not asked", proto::op_name(op));
        return status_only(op, Status::Unavailable);
    } catch (const db::DbUnavailable& e) {
        unavailable_++;
        log::say(LOG_ERR, "%s: database unavailable: %s", proto::op_name(op), e.what());
        return status_only(op, Status::Unavailable);
    } catch (const std::length_error& e) {
        log::say(LOG_ERR, "%s: response too large: %s", proto::op_name(op), e.what());
        return status_only(op, Status::Unavailable);
    } catch (const std::exception& e) {
        log::say(LOG_ERR, "%s: internal error: %s", proto::op_name(op), e.what());
        return status_only(op, Status::Unavailable);
    } catch (...) {
        log::say(LOG_ERR, "%s: internal error", proto::op_name(op));
        return status_only(op, Status::Unavailable);
    }
}

std::optional<Reply> Handler::cached(std::string_view frame, const Peer& peer) noexcept {
    try {
        proto::Reader r(frame);
        if (!r.ok() || !r.header_ok() || r.status() != Status::Ok || !is_lookup_op(r.op())) return std::nullopt;
        // A miss is counted once, by the worker that asks again (lookup()).
        auto hit = cache_.get(std::string(frame), Cache::Clock::now(), /*count_miss=*/false);
        if (!hit) return std::nullopt;
        requests_++;
        if (log::debug_enabled())
            log::say(LOG_DEBUG, "request %s from uid %u pid %d, %zu bytes (cached)", proto::op_name(r.op()),
                     unsigned(peer.uid), int(peer.pid), frame.size());
        return Reply{std::move(*hit), false};
    } catch (...) {
        return std::nullopt;  // the worker answers it
    }
}

bool Handler::trusted_caller(Op op, const Peer& peer) {
    if (clients_.allows(peer)) return true;
    denied_++;
    log::say(LOG_WARNING, "%s refused: caller uid %u pid %d is not an auth client", proto::op_name(op),
             unsigned(peer.uid), int(peer.pid));
    return false;
}

// --- Authenticate -----------------------------------------------------------------

Reply Handler::authenticate(proto::Reader& r, const Peer& peer) {
    const Op op = Op::Authenticate;
    std::string user = r.str(), password = r.str(), service = r.str(), rhost = r.str();
    Scrub scrub{password};
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    if (!clients_.allows(peer)) {
        denied_++;
        log::say(LOG_WARNING, "authenticate refused: caller uid %u pid %d is not an auth client",
                 unsigned(peer.uid), int(peer.pid));
        return status_only(op, Status::Denied);
    }
    const std::string who = "user=" + log::printable(user) + " service=" + log::printable(service) +
                            " rhost=" + log::printable(rhost) + " uid=" + std::to_string(peer.uid);
    const std::string client = Throttle::client_key(peer.uid, rhost);

    auto u = db_.user_by_name(user);  // throws DbUnavailable: no hash then
    // A locked-out user is refused without a hash (see throttle.h).
    const std::string tkey = Throttle::user_key(u ? std::optional<int64_t>(u->id) : std::nullopt, user);
    const std::string label = u ? u->username : user;
    if (const uint32_t left = throttle_refuses(tkey, client, "authentication refused: " + who)) {
        if (u) wipe(u->password);
        auth_fail_++;
        proto::Writer w(op, Status::Throttled);
        w.u32(left);
        return Reply{std::move(w.finish()), false};
    }
    std::string refusal = login_refusal(u, service);
    if (!refusal.empty()) {
        // Django runs the preferred hasher once for an unknown or inactive
        // user, so the time taken does not tell who exists; a user hidden by
        // the host's names or left out by [access] looks the same.
        if (u) wipe(u->password);
        hashers_.dummy_hash(password);
        auth_fail_++;
        log::say(LOG_NOTICE, "authentication failed: %s: %s", who.c_str(), refusal.c_str());
        count_failure(tkey, client, label);
        return status_only(op, Status::NoUser);
    }
    Scrub scrub_hash{u->password};
    VerifyResult v = hashers_.verify(password, u->password);
    if (!v.ok()) {
        // An unusable ('!') or unparseable value cost one hash in verify(), as in Django.
        auth_fail_++;
        log::say(LOG_NOTICE, "authentication failed: %s: %s", who.c_str(),
                 v.status == VerifyStatus::Mismatch ? "wrong password"
                 : v.status == VerifyStatus::Unusable ? "unusable password"
                                                      : ("stored value not usable: " + v.reason).c_str());
        count_failure(tkey, client, label);
        return status_only(op, Status::WrongPassword);
    }
    throttle_.success(tkey);
    auth_ok_++;
    log::say(LOG_INFO, "authenticated: %s", who.c_str());
    // Optional writes; a failure here does not undo the successful check.
    if (cfg_.passwords.rehash_on_login && v.must_update) {
        try {
            std::string encoded = hashers_.encode(password);
            Scrub s2{encoded};
            db_.set_password(u->id, encoded);
            log::say(LOG_INFO, "password of user=%s rehashed with %s", log::printable(user).c_str(),
                     hashers_.preferred().c_str());
        } catch (const std::exception& e) {
            log::say(LOG_WARNING, "rehash of user=%s failed: %s", log::printable(user).c_str(), e.what());
        }
    }
    if (cfg_.passwords.update_last_login) {
        try {
            db_.set_last_login(u->id);
        } catch (const std::exception& e) {
            log::say(LOG_WARNING, "last_login of user=%s not updated: %s", log::printable(user).c_str(), e.what());
        }
    }
    return status_only(op, Status::Ok);
}

// --- Account ----------------------------------------------------------------------

Reply Handler::account(proto::Reader& r) {
    const Op op = Op::Account;
    std::string user = r.str();
    std::vector<std::string> any_of = r.strs();
    uint32_t flags = r.u32();
    std::vector<std::string> perms = r.strs();
    std::string service = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);

    auto u = db_.user_by_name(user);
    if (!u || entries_.hidden_by_host(u->id, u->username)) return with_text(op, Status::NoUser, "no such user");
    wipe(u->password);
    if (!u->is_active) return with_text(op, Status::Inactive, "account is inactive");
    UserGroups groups(db_, u->id);
    if (!may_log_in(service, groups)) {
        const std::string rule = access_rule(service);
        log::say(LOG_NOTICE, "account refused: user=%s service=%s: not allowed by %s",
                 log::printable(u->username).c_str(), log::printable(service).c_str(), rule.c_str());
        return with_text(op, Status::PermDenied, "not allowed to log in through this service (" + rule + ")");
    }
    if ((flags & proto::kRequireStaff) && !u->is_staff)
        return with_text(op, Status::PermDenied, "staff status required");
    if ((flags & proto::kRequireSuperuser) && !u->is_superuser)
        return with_text(op, Status::PermDenied, "superuser status required");
    if (!any_of.empty() && !in_any_group(groups, any_of))
        return with_text(op, Status::PermDenied, "not in any of the required groups");
    // ModelBackend: an active superuser has every permission; otherwise user
    // permissions and permissions of the user's groups.
    if (!perms.empty() && !u->is_superuser) {
        auto have_list = db_.permissions_of_user(u->id);
        std::set<std::string> have(have_list.begin(), have_list.end());
        for (const auto& p : perms)
            if (!have.count(p)) return with_text(op, Status::PermDenied, "missing permission " + log::printable(p));
    }
    return with_text(op, Status::Ok, "");
}

// --- ChangePassword ---------------------------------------------------------------

Reply Handler::change_password(proto::Reader& r, const Peer& peer) {
    const Op op = Op::ChangePassword;
    std::string user = r.str(), old_pw = r.str(), new_pw = r.str();
    Scrub s1{old_pw}, s2{new_pw};
    uint32_t flags = r.u32();
    std::string service = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    if (!clients_.allows(peer)) {
        denied_++;
        log::say(LOG_WARNING, "change-password refused: caller uid %u pid %d is not an auth client",
                 unsigned(peer.uid), int(peer.pid));
        return with_text(op, Status::Denied, "caller not allowed");
    }
    if (!cfg_.passwords.allow_change)
        return with_text(op, Status::Disabled, "");   // the module says it; nothing to add
    const bool check_only = flags & proto::kCheckOnly;
    if (!check_only && new_pw.empty()) return with_text(op, Status::BadRequest, "empty new password");

    const std::string client = Throttle::client_key(peer.uid, {});
    auto u = db_.user_by_name(user);
    const std::string tkey = Throttle::user_key(u ? std::optional<int64_t>(u->id) : std::nullopt, user);
    const std::string label = u ? u->username : user;
    if (const uint32_t left = throttle_refuses(
            tkey, client, "password change refused: user=" + log::printable(user) + " uid=" + std::to_string(peer.uid))) {
        if (u) wipe(u->password);
        proto::Writer w(op, Status::Throttled);
        w.str("too many failed attempts");
        w.u32(left);
        return Reply{std::move(w.finish()), false};
    }
    if (std::string refusal = login_refusal(u, service); !refusal.empty()) {
        if (u) wipe(u->password);
        hashers_.dummy_hash(old_pw);
        log::say(LOG_NOTICE, "password change failed: user=%s service=%s uid=%u: %s", log::printable(user).c_str(),
                 log::printable(service).c_str(), unsigned(peer.uid), refusal.c_str());
        count_failure(tkey, client, label);
        return with_text(op, Status::NoUser, "no such user");
    }
    Scrub s3{u->password};
    VerifyResult v = hashers_.verify(old_pw, u->password);
    if (!v.ok()) {
        log::say(LOG_NOTICE, "password change failed: user=%s uid=%u: wrong password", log::printable(user).c_str(),
                 unsigned(peer.uid));
        count_failure(tkey, client, label);
        return with_text(op, Status::WrongPassword, "wrong password");
    }
    throttle_.success(tkey);
    if (check_only) return with_text(op, Status::Ok, "");
    // Django's validate_password(new, user): every refusal's message.
    if (auto errors = rules_.check(new_pw, UserAttributes{u->username, u->first_name, u->last_name});
        !errors.empty()) {
        std::string text;
        for (const auto& e : errors) text += (text.empty() ? "" : " ") + e;
        log::say(LOG_NOTICE, "password change refused: user=%s uid=%u: the new password fails %zu of the validators",
                 log::printable(user).c_str(), unsigned(peer.uid), errors.size());
        return with_text(op, Status::BadRequest, text);
    }
    std::string encoded = hashers_.encode(new_pw);
    Scrub s4{encoded};
    db_.set_password(u->id, encoded);
    cache_.flush();
    log::say(LOG_INFO, "password changed: user=%s uid=%u", log::printable(user).c_str(), unsigned(peer.uid));
    return with_text(op, Status::Ok, "password changed");
}

// --- Who may log in ---------------------------------------------------------------

std::string Handler::login_refusal(const std::optional<db::UserRow>& u, std::string_view service) {
    if (!u) return "no such user";
    // Names NSS cannot carry and ids beyond uid_max still log in (a web-only
    // stack needs no passwd entry); what the host uses or reserves never.
    if (entries_.hidden_by_host(u->id, u->username)) return "not served: the host uses or reserves its name or id";
    if (!u->is_active) return "inactive";
    if (UserGroups groups(db_, u->id); !may_log_in(service, groups)) return "not allowed by " + access_rule(service);
    return {};
}

bool Handler::in_any_group(UserGroups& groups, const std::vector<std::string>& names) {
    for (const auto& g : groups.get()) {
        // Names NSS cannot carry still count here (Django's own semantics);
        // what the host uses or reserves never.
        if (entries_.group_hidden_by_host(g)) continue;
        const std::string nss = entries_.prefix() + g.name;
        for (const auto& want : names)
            if (want == g.name || want == nss) return true;
    }
    return false;
}

bool Handler::may_log_in(std::string_view service, UserGroups& groups) {
    const auto& allowed = cfg_.access.rule_for(service);
    if (allowed.empty()) return false;
    if (allowed.size() == 1 && allowed[0] == "*") return true;
    return in_any_group(groups, allowed);
}

std::string Handler::access_rule(std::string_view service) const {
    bool listed = false;
    const auto& allowed = cfg_.access.rule_for(service, &listed);
    std::string rule = "[access] " + (listed ? log::printable(names::fold(service)) : std::string("default")) + " = ";
    for (size_t i = 0; i < allowed.size(); ++i) rule += (i ? ", " : "") + log::printable(allowed[i]);
    if (allowed.empty()) rule += "(nobody)";
    if (!listed) rule += " (service '" + log::printable(service) + "' has no line)";
    return rule;
}

void Handler::refresh_host_names() {
    if (!host_.refresh()) return;
    cache_.flush();
    log::say(LOG_INFO, "%s or %s read; cached answers dropped", host_.passwd_file().c_str(),
             host_.group_file().c_str());
}

// --- The site's hasher parameters ------------------------------------------------

bool Handler::refresh_site_params() {
    std::unique_lock<std::mutex> scan(scan_mutex_, std::try_to_lock);
    if (!scan.owns_lock()) return false;  // one is running: it will do
    SiteScan site(hashers_.limits());
    constexpr int kPage = 1000;
    try {
        int64_t after = 0;
        for (;;) {
            auto page = db_.passwords_after(after, kPage);
            for (auto& [id, value] : page) {
                site.add(value);
                wipe(value);
                after = id;
            }
            if (page.size() < size_t(kPage)) break;
        }
    } catch (const std::exception& e) {
        log::say(LOG_WARNING, "site's hasher parameters not read: %s", e.what());
        return false;
    }
    std::string text;
    const HashParams hp = choose_params(cfg_.passwords, &site.result(), &text);
    hashers_.set_params(hp);
    bool changed;
    {
        std::lock_guard<std::mutex> lock(params_mutex_);
        changed = text != params_text_;
        params_text_ = text;
        site_values_ = site.result().values;
    }
    if (changed) {
        // One line per family; the parameters only, never a value.
        size_t start = 0;
        while (start < text.size()) {
            size_t nl = text.find('\n', start);
            log::say(LOG_INFO, "hasher parameters from %zu stored values: %s", site.result().values,
                     text.substr(start, nl - start).c_str());
            start = nl + 1;
        }
    }
    return true;
}

// --- Throttle ---------------------------------------------------------------------

uint32_t Handler::throttle_refuses(const std::string& key, const std::string& client, const std::string& who) {
    const char* what = "";
    const uint32_t left = throttle_.locked(key, client, what);
    if (left == 0) return 0;
    throttled_++;
    log::say(LOG_NOTICE, "%s: %s locked out for %s", who.c_str(), what,
             left == UINT32_MAX ? "until reset" : (std::to_string(left) + "s").c_str());
    return left;
}

void Handler::count_failure(const std::string& key, const std::string& client, const std::string& label) {
    if (throttle_.failure(key, client, Throttle::Clock::now(), label))
        log::say(LOG_WARNING, "too many failed logins: user=%s client=%s locked out for %s",
                 log::printable(label).c_str(), client.empty() ? "-" : log::printable(client).c_str(),
                 cfg_.throttle.unlock_time > 0 ? (std::to_string(cfg_.throttle.unlock_time) + "s").c_str()
                                               : "until reset");
}

Reply Handler::throttle_op(Op op, proto::Reader& r, const Peer& peer) {
    std::string kind, name;
    if (op == Op::ThrottleReset) kind = r.str();
    name = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    if (peer.uid != 0) {
        denied_++;
        log::say(LOG_WARNING, "%s refused: caller uid %u pid %d is not root", proto::op_name(op),
                 unsigned(peer.uid), int(peer.pid));
        return status_only(op, Status::Denied);
    }
    if (op == Op::ThrottleReset) {
        if (kind != "user" && kind != "client") return status_only(op, Status::BadRequest);
        bool found = throttle_.reset(kind, name);   // a record labelled `name`, or the client
        if (kind == "user") {
            // The user the database finds for this spelling, and the name as typed.
            try {
                if (auto u = db_.user_by_name(name)) {
                    wipe(u->password);
                    found |= throttle_.reset(kind, Throttle::user_key(u->id, name));
                }
            } catch (const db::DbUnavailable&) {
            }
            found |= throttle_.reset(kind, Throttle::user_key(std::nullopt, name));
        }
        if (!found) return status_only(op, Status::NotFound);
        log::say(LOG_NOTICE, "throttle reset: %s=%s by pid %d", kind.c_str(), log::printable(name).c_str(),
                 int(peer.pid));
        return status_only(op, Status::Ok);
    }
    auto entries = throttle_.list(name);
    proto::Writer w(op);
    w.u32(uint32_t(entries.size()));
    for (const auto& e : entries) {
        if (w.size() > kResponseBudget) break;
        w.str(e.kind);
        w.str(e.name.size() > proto::kMaxString ? e.name.substr(0, proto::kMaxString) : e.name);
        w.u32(e.failures);
        w.u32(e.locked_for);
    }
    return Reply{std::move(w.finish()), false};
}

// --- Lookups ----------------------------------------------------------------------

Reply Handler::lookup(Op op, proto::Reader& r, std::string_view frame) {
    std::string key(frame);
    if (auto hit = cache_.get(key)) return Reply{std::move(*hit), false};
    proto::Writer w(op);
    Status s = Status::BadRequest;
    switch (op) {
        case Op::PwByName: s = pw_by_name(r, w); break;
        case Op::PwByUid: s = pw_by_uid(r, w); break;
        case Op::PwList: s = pw_list(r, w); break;
        case Op::GrByName: s = gr_by_name(r, w); break;
        case Op::GrByGid: s = gr_by_gid(r, w); break;
        case Op::GrList: s = gr_list(r, w); break;
        case Op::GroupsOfUser: s = groups_of_user(r, w); break;
        default: break;
    }
    if (s == Status::BadRequest) return status_only(op, s);
    Reply reply = s == Status::Ok ? Reply{std::move(w.finish()), false} : status_only(op, s);
    cache_.put(key, reply.frame, s == Status::Ok);
    return reply;
}

Status Handler::pw_by_name(proto::Reader& r, proto::Writer& w) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    // A name the host's files hold (or reserve) is never served: no query,
    // so that it answers at once even while the database does not.
    if (!names::nss_ok(name) || host_.user_conflict(name, std::nullopt)) return Status::NotFound;
    auto u = db_.user_by_name(name);
    if (!u) return Status::NotFound;
    wipe(u->password);
    auto p = entries_.passwd(*u);
    if (!p) return Status::NotFound;
    w.passwd(*p);
    return Status::Ok;
}

Status Handler::pw_by_uid(proto::Reader& r, proto::Writer& w) {
    uint32_t uid = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    auto id = entries_.user_id_of(uid);
    if (!id) return Status::NotFound;
    auto u = db_.user_by_id(*id);
    if (!u) return Status::NotFound;
    auto p = entries_.passwd(*u);
    if (!p) return Status::NotFound;
    w.passwd(*p);
    return Status::Ok;
}

Status Handler::pw_list(proto::Reader& r, proto::Writer& w) {
    uint32_t after_uid = r.u32();
    uint32_t max_items = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    const uint32_t page = std::clamp<uint32_t>(max_items, 1, kMaxPage);
    int64_t after_id = after_uid <= cfg_.nss.uid_base ? 0 : int64_t(after_uid) - int64_t(cfg_.nss.uid_base);
    std::vector<proto::Passwd> out;
    size_t bytes = 0;
    bool more = false;
    // Rows whose names NSS cannot carry are skipped; keep reading so that a
    // page is never empty while entries remain.
    for (;;) {
        const uint32_t want = page - uint32_t(out.size());
        auto rows = db_.users_after(after_id, int(want));
        bool beyond = false;
        for (auto& u : rows) {
            if (!entries_.uid_of(u.id)) {
                beyond = true;  // ids are ordered: every further one is out of range too
                break;
            }
            after_id = u.id;
            auto p = entries_.passwd(u);
            if (!p) continue;
            bytes += p->name.size() + p->gecos.size() + p->dir.size() + p->shell.size() + 32;
            out.push_back(std::move(*p));
            if (bytes > kResponseBudget) break;
        }
        if (beyond || rows.size() < want) break;  // nothing further to show
        if (out.size() >= page || bytes > kResponseBudget) {
            more = true;
            break;
        }
    }
    w.u32(uint32_t(out.size()));
    for (const auto& p : out) w.passwd(p);
    w.u32(more ? 1 : 0);
    return Status::Ok;
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

Status Handler::gr_by_name(proto::Reader& r, proto::Writer& w) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    auto django = entries_.django_group_name(name);
    if (!django || host_.group_conflict(name, std::nullopt)) return Status::NotFound;
    auto g = db_.group_by_name(*django);
    if (!g) return Status::NotFound;
    auto grp = make_group(*g);
    if (!grp) return Status::NotFound;
    w.group(*grp);
    return Status::Ok;
}

Status Handler::gr_by_gid(proto::Reader& r, proto::Writer& w) {
    uint32_t gid = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    auto id = entries_.group_id_of(gid);
    if (!id) return Status::NotFound;
    auto g = db_.group_by_id(*id);
    if (!g) return Status::NotFound;
    auto grp = make_group(*g);
    if (!grp) return Status::NotFound;
    w.group(*grp);
    return Status::Ok;
}

Status Handler::gr_list(proto::Reader& r, proto::Writer& w) {
    uint32_t after_gid = r.u32();
    uint32_t max_items = r.u32();
    if (!r.at_end()) return Status::BadRequest;
    const uint32_t page = std::clamp<uint32_t>(max_items, 1, kMaxPage);
    int64_t after_id = after_gid <= cfg_.nss.gid_base ? 0 : int64_t(after_gid) - int64_t(cfg_.nss.gid_base);
    std::vector<proto::Group> out;
    size_t bytes = 0;
    bool more = false;
    for (;;) {
        const uint32_t want = page - uint32_t(out.size());
        auto rows = db_.groups_after(after_id, int(want));
        if (rows.empty()) break;
        bool beyond = false, full = false;
        for (auto& g : rows) {
            if (!entries_.gid_of(g.id)) {
                beyond = true;
                break;
            }
            auto grp = make_group(g);
            size_t size = 0;
            if (grp) {
                size = grp->name.size() + 16;
                for (const auto& m : grp->members) size += m.size() + 4;
            }
            // A group that does not fit this page starts the next one (unless
            // it is alone: then it is sent and may fail if it exceeds a frame).
            if (grp && !out.empty() && bytes + size > kResponseBudget) {
                full = true;
                break;
            }
            after_id = g.id;
            if (!grp) continue;
            bytes += size;
            out.push_back(std::move(*grp));
        }
        if (beyond) break;
        if (full || out.size() >= page) {
            more = true;
            break;
        }
        if (rows.size() < want) break;
    }
    w.u32(uint32_t(out.size()));
    for (const auto& g : out) w.group(g);
    w.u32(more ? 1 : 0);
    return Status::Ok;
}

Status Handler::groups_of_user(proto::Reader& r, proto::Writer& w) {
    std::string name = r.str();
    if (!r.at_end()) return Status::BadRequest;
    // initgroups asks for local users too (root at every sudo): see pw_by_name.
    if (!names::nss_ok(name) || host_.user_conflict(name, std::nullopt)) return Status::NotFound;
    auto u = db_.user_by_name(name);
    if (!u || !entries_.passwd(*u)) return Status::NotFound;
    wipe(u->password);
    std::vector<uint32_t> gids;
    // Django's groups_for_user: no groups for an inactive user.
    if (u->is_active)
        for (const auto& g : db_.groups_of_user(u->id))
            if (auto gid = entries_.gid_of(g.id); gid && entries_.group_name(g)) gids.push_back(*gid);
    w.u32(uint32_t(gids.size()));
    for (uint32_t g : gids) w.u32(g);
    return Status::Ok;
}

std::string Handler::stats_text() const {
    auto c = cache_.stats();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    std::ostringstream o;
    o << "version " << kDaemonVersion << "\n"
      << "database " << db_.describe() << "\n"
      << "uptime " << up << "\n"
      << "requests " << requests_.load() << "\n"
      << "connections " << connections_.load() << "\n"
      << "auth_ok " << auth_ok_.load() << "\n"
      << "auth_failed " << auth_fail_.load() << "\n"
      << "denied " << denied_.load() << "\n"
      << "throttled " << throttled_.load() << "\n"
      << "throttle_entries " << throttle_.size() << "\n"
      << "unavailable " << unavailable_.load() << "\n"
      << "cache_entries " << c.entries << "\n"
      << "cache_bytes " << c.bytes << "\n"
      << "cache_hits " << c.hits << "\n"
      << "cache_misses " << c.misses << "\n"
      << "cache_evictions " << c.evictions << "\n"
      << "hash_preferred " << hashers_.preferred() << "\n"
      << db_.status_lines();
    {
        std::lock_guard<std::mutex> lock(params_mutex_);
        o << params_text_ << "site_values " << site_values_ << "\n";
    }
    return o.str();
}

}  // namespace dj
