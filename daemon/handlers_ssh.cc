// Handler: AuthorizedKeys, the public keys sshd's AuthorizedKeysCommand
// prints (django-authctl authorized-keys USER). The user must be one who may
// log in through sshd (login_refusal(): known, active, not hidden by the
// host's names, let in by [access] sshd); each stored key is checked
// (ssh_keys.h) and a bad one dropped and logged by the user's id and the
// reason, never by its text. Answers are cached as lookups are, but never
// published to the shared cache file, which every user may read.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include "daemon/cache_tags.h"
#include "daemon/log.h"
#include "daemon/ssh_keys.h"

namespace dj {

using namespace handler_internal;

namespace {

// The PAM service whose [access] rule decides who gets keys.
constexpr std::string_view kSshService = "sshd";

}  // namespace

Reply Handler::authorized_keys(proto::Reader& r, std::string_view frame, const Peer& peer) {
    const Op op = Op::AuthorizedKeys;
    std::string user = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    if (!ssh_clients_.allows(peer)) {
        denied_++;
        log::say_for(peer.uid, LOG_WARNING, "authorized-keys refused: caller uid %u pid %d is not root nor in [ssh] clients",
                     unsigned(peer.uid), int(peer.pid));
        return status_only(op, Status::Denied);
    }
    if (!cfg_.ssh.authorized_keys) return status_only(op, Status::Disabled);

    const std::string key(frame);
    if (auto hit = cache_.get(key)) return Reply{std::move(*hit), false};
    const uint64_t read_at = cache_.generation();  // before the database is read
    // What the answer was read from (cache_tags.h), for push invalidation.
    Cache::Tags tags{cache_tag::access(), cache_tag::not_found()};
    auto answer = [&](Reply reply, bool found) {
        cache_.put(key, reply.frame, found, Cache::Clock::now(), read_at, tags);
        return reply;
    };
    // A name the host's files hold (or reserve) is never asked about: its
    // keys are the host's business (~/.ssh/authorized_keys).
    if (const std::string_view n = names::without_trailing_spaces(user);
        !names::nss_ok(n) || host_.user_conflict(n, std::nullopt))
        return answer(status_only(op, Status::NoUser), false);
    auto u = db_.user_by_name(user);
    if (u) {
        wipe(u->password);
        tags = {cache_tag::user(u->id), cache_tag::memberships(u->id), cache_tag::keys(u->id), cache_tag::access()};
    }
    if (std::string refusal = login_refusal(u, kSshService); !refusal.empty()) {
        if (log::debug_enabled())
            log::say(LOG_DEBUG, "authorized-keys: user=%s: no keys: %s", log::printable(user).c_str(), refusal.c_str());
        return answer(status_only(op, Status::NoUser), false);
    }
    const sshkeys::AllowedOptions allowed{cfg_.ssh.allowed_options};
    std::vector<std::string> lines;
    const auto stored = db_.keys_of_user(u->id);
    size_t index = 0;
    for (const auto& k : stored) {
        ++index;
        std::string why;
        if (auto line = sshkeys::check_line(k, allowed, why)) {
            lines.push_back(std::move(*line));
            continue;
        }
        log::say(LOG_WARNING, "authorized-keys: user id %lld: stored key %zu of %zu dropped: %s",
                 static_cast<long long>(u->id), index, stored.size(), why.c_str());
    }
    proto::Writer w(op);
    w.strs(lines);
    return answer(Reply{std::move(w.finish()), false}, true);
}

}  // namespace dj
