// Handler: the dispatch of every request (handle, cached), shared by the
// three kinds of op it serves: handlers_auth.cc, handlers_lookup.cc,
// handlers_admin.cc.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include <ctime>

#include "daemon/log.h"
#include "daemon/startup.h"

namespace dj {

using namespace handler_internal;
using proto::Op;
using proto::Status;

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
      throttle_(cfg.throttle),
      offline_(cfg.offline.file, cfg.offline.max_days) {
    choose_params(cfg_.passwords, nullptr, &params_text_);
    if (offline_on()) {
        std::string error;
        if (!offline_.load(error)) log::say(LOG_ERR, "offline credentials: %s", error.c_str());
        error.clear();
        offline_.expire(std::time(nullptr), error);
        log::say(LOG_INFO, "offline credentials: %zu records in %s%s", offline_.size(), cfg_.offline.file.c_str(),
                 offline_.usable() ? "" : " (not used: see above)");
    }
}

bool Handler::is_auth_op(Op op) {
    return op == Op::Authenticate || op == Op::AuthenticateWithCode || op == Op::ChangePassword;
}

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
        if (is_lookup_op(op) || ((is_auth_op(op) || op == Op::Account) && clients_.allows(peer)) ||
            (op == Op::AuthorizedKeys && ssh_clients_.allows(peer)))
            refresh_host_names();
        switch (op) {
            case Op::Hello: {
                if (!r.at_end()) return status_only(op, Status::BadRequest);
                proto::Writer w(op);
                w.str(kDaemonVersion);
                w.u32(proto::kProtocolVersion);
                return Reply{std::move(w.finish()), false};
            }
            case Op::Authenticate: return authenticate(r, peer, false);
            case Op::AuthenticateWithCode: return authenticate(r, peer, true);
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
            case Op::AuthorizedKeys: return authorized_keys(r, frame, peer);
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

}  // namespace dj
