// Handler: the authentication ops (Authenticate, AuthenticateWithCode, Account,
// ChangePassword),
// who may log in ([access], require_group), and the throttle's counting.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include <set>

#include "daemon/cache_tags.h"
#include "daemon/log.h"
#include "daemon/otp.h"

namespace dj {

using namespace handler_internal;

// Authenticate: user, password, service, rhost [, u32 otp];
// AuthenticateWithCode: user, password, code, service, rhost.
Reply Handler::authenticate(proto::Reader& r, const Peer& peer, bool with_code) {
    const Op op = with_code ? Op::AuthenticateWithCode : Op::Authenticate;
    Login l;
    std::string code;
    Scrub scrub{l.password}, scrub_code{code};
    l.user = r.str();
    l.password = r.str();
    if (with_code) {
        code = r.str();
        l.code = &code;
    }
    l.service = r.str();
    l.rhost = r.str();
    // The one-time code policy: a u32 at the end, from modules that ask for codes.
    if (!with_code && r.ok() && !r.at_end()) {
        l.otp = r.u32();
        if (l.otp == 0) return status_only(op, Status::BadRequest);
    }
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    return login(op, l, peer);
}

// Authenticate and AuthenticateWithCode: who may ask, the throttle, who may
// log in, the password, and with [otp] the one-time code (common/protocol.h).
Reply Handler::login(Op op, Login& l, const Peer& peer) {
    if (!clients_.allows(peer)) {
        denied_++;
        log::say(LOG_WARNING, "%s refused: caller uid %u pid %d is not an auth client", proto::op_name(op),
                 unsigned(peer.uid), int(peer.pid));
        return status_only(op, Status::Denied);
    }
    const bool with_otp = l.otp != 0 || l.code != nullptr;
    // Off in the daemon: nobody can tell who has a device, so no answer
    // could be right (before any hash: nothing is learnt).
    if (with_otp && !cfg_.otp.enabled) {
        log::say(LOG_WARNING, "%s refused: the PAM module asks for one-time codes, but [otp] is off",
                 proto::op_name(op));
        return status_only(op, Status::Disabled);
    }
    const std::string& user = l.user;
    const std::string who = "user=" + log::printable(user) + " service=" + log::printable(l.service) +
                            " rhost=" + log::printable(l.rhost) + " uid=" + std::to_string(peer.uid);
    const std::string client = Throttle::client_key(peer.uid, l.rhost);

    std::optional<db::UserRow> u;
    try {
        u = db_.user_by_name(user);  // throws DbUnavailable: no hash then
    } catch (const db::DbQueryError&) {
        throw;
    } catch (const db::DbUnavailable&) {
        // The database cannot be reached: the offline credentials, if any,
        // unless the service asks for a one-time code, which only the
        // database can check (no second factor is ever skipped).
        if (!with_otp)
            if (auto reply = authenticate_offline(user, l.password, l.service, who, client)) return std::move(*reply);
        throw;
    }
    offline_seen(user, u);
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
    std::string refusal = login_refusal(u, l.service);
    if (!refusal.empty()) {
        // Django runs the preferred hasher once for an unknown or inactive
        // user, so the time taken does not tell who exists; a user hidden by
        // the host's names or left out by [access] looks the same.
        if (u) wipe(u->password);
        hashers_.dummy_hash(l.password);
        auth_fail_++;
        log::say(LOG_NOTICE, "authentication failed: %s: %s", who.c_str(), refusal.c_str());
        count_failure(tkey, client, label);
        return status_only(op, Status::NoUser);
    }
    Scrub scrub_hash{u->password};
    otp::Devices devices;
    if (with_otp) devices = otp::devices_of(db_, u->id);

    // The password, or with kOtpConcat and a device, the password before
    // the code (one split per code length the user's devices have).
    std::string password_part, concat_code;
    Scrub s1{password_part}, s2{concat_code};
    const bool concat = (l.otp & proto::kOtpConcat) && !l.code && !devices.empty();
    VerifyResult v;
    if (concat) {
        bool tried = false;
        for (int64_t digits : devices.code_lengths()) {
            if (l.password.size() <= size_t(digits)) continue;
            const size_t cut = l.password.size() - size_t(digits);
            wipe(password_part);
            password_part.assign(l.password, 0, cut);
            tried = true;
            v = hashers_.verify(password_part, u->password);
            if (v.ok()) {
                concat_code.assign(l.password, cut, std::string::npos);
                break;
            }
        }
        if (!tried) {
            hashers_.dummy_hash(l.password);   // too short for any split: one hash all the same
            v.status = VerifyStatus::Mismatch;
        }
    } else {
        v = hashers_.verify(l.password, u->password);
    }
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
    if (with_otp) {
        const std::string* code = l.code ? l.code : concat ? &concat_code : nullptr;
        if (!code && devices.empty() && (l.otp & proto::kOtpRequired)) {
            // Neither a success nor a failure: the password is right, but
            // this service wants a second factor the user has not set up.
            log::say(LOG_NOTICE, "authentication refused: %s: a one-time code is required and the user has no "
                                 "confirmed device", who.c_str());
            return status_only(op, Status::PermDenied);
        }
        if (!code && !devices.empty()) {
            // No success counted, no last_login: the code decides.
            log::say(LOG_INFO, "password accepted, one-time code required: %s", who.c_str());
            return status_only(op, Status::CodeRequired);
        }
        if (code) {
            int64_t device = 0;
            if (devices.empty() || !otp::accept_code(db_, cfg_.otp, devices, *code, otp::now_seconds(), device)) {
                auth_fail_++;
                log::say(LOG_NOTICE, "authentication failed: %s: %s", who.c_str(),
                         devices.empty() ? "a code was given but the user has no confirmed device"
                                         : "wrong or already used one-time code");
                count_failure(tkey, client, label);
                return status_only(op, Status::WrongPassword);
            }
            log::say(LOG_INFO, "one-time code accepted: %s device=%lld", who.c_str(), static_cast<long long>(device));
        }
    }
    throttle_.success(tkey);
    auth_ok_++;
    log::say(LOG_INFO, "authenticated: %s", who.c_str());
    // Optional writes; a failure here does not undo the successful check.
    if (cfg_.passwords.rehash_on_login && v.must_update) {
        try {
            std::string encoded = hashers_.encode(concat ? password_part : l.password);
            Scrub s3{encoded};
            db_.set_password(u->id, encoded);
            wipe(u->password);
            u->password = encoded;  // what the offline record is checked against now
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
    offline_login(*u, concat ? password_part : l.password);
    return status_only(op, Status::Ok);
}

Reply Handler::account(proto::Reader& r) {
    const Op op = Op::Account;
    std::string user = r.str();
    std::vector<std::string> any_of = r.strs();
    uint32_t flags = r.u32();
    std::vector<std::string> perms = r.strs();
    std::string service = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);

    std::optional<db::UserRow> u;
    try {
        u = db_.user_by_name(user);
    } catch (const db::DbQueryError&) {
        throw;
    } catch (const db::DbUnavailable&) {
        if (auto reply = account_offline(user, any_of, flags, perms, service)) return std::move(*reply);
        throw;
    }
    offline_seen(user, u);
    if (!u || entries_.hidden_by_host(u->id, u->username)) return with_text(op, Status::NoUser, "no such user");
    wipe(u->password);
    if (!u->is_active) return with_text(op, Status::Inactive, "account is inactive");
    UserGroups groups(db_, u->id);
    offline_account(*u, groups);
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
    cache_.drop({cache_tag::user(u->id)});
    offline_forget(u->id, "password changed");  // kept again at the next login
    log::say(LOG_INFO, "password changed: user=%s uid=%u", log::printable(user).c_str(), unsigned(peer.uid));
    return with_text(op, Status::Ok, "password changed");
}

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

}  // namespace dj
