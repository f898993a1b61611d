// Requests to django-authd; see daemon_calls.h and common/protocol.h.
#include "pam/daemon_calls.h"

#include <string.h>

#include <utility>

namespace dj::pam {
namespace {

// Items such as PAM_RHOST come from the application; the protocol bounds
// strings, so clip rather than fail.
std::string_view clip(std::string_view s) {
    return s.size() > proto::kMaxString ? s.substr(0, proto::kMaxString) : s;
}

// The request frame holds a password: wipe it however the call ends.
struct Wipe {
    std::vector<uint8_t>& v;
    ~Wipe() {
        if (!v.empty()) explicit_bzero(v.data(), v.size());
    }
};

}  // namespace

DaemonCalls::DaemonCalls(client::Options opt, CallFn fn)
    : opt_(std::move(opt)), fn_(std::move(fn)) {
    if (!fn_) fn_ = [](const client::Options& o, const std::vector<uint8_t>& req) {
        return client::call(o, req);
    };
}

Reply DaemonCalls::exchange(proto::Op op, std::vector<uint8_t>& frame, bool has_text) {
    Wipe wipe{frame};
    Reply r;
    client::Response resp = fn_(opt_, frame);
    if (resp.transport != client::Transport::Ok) {
        r.error = resp.error.empty() ? "daemon unreachable" : resp.error;
        return r;
    }
    proto::Reader rd(resp.frame);
    if (!rd.header_ok() || rd.op() != op) {
        r.error = "malformed response";
        return r;
    }
    r.reached = true;
    r.status = rd.status();
    if (has_text) {
        // Optional on statuses that carry none; a missing text is not an error.
        std::string t = rd.str();
        if (rd.ok()) r.text = std::move(t);
    }
    if (r.status == proto::Status::Throttled && rd.ok()) {
        uint32_t left = rd.u32();
        if (rd.ok()) r.locked_for = left;
    }
    return r;
}

Reply DaemonCalls::authenticate(std::string_view user, std::string_view password,
                                std::string_view service, std::string_view rhost, uint32_t otp) {
    proto::Writer w(proto::Op::Authenticate);
    w.str(user);
    w.str(password);
    w.str(clip(service));
    w.str(clip(rhost));
    if (otp != 0) w.u32(otp);
    return exchange(proto::Op::Authenticate, w.finish(), false);
}

Reply DaemonCalls::authenticate_with_code(std::string_view user, std::string_view password,
                                          std::string_view code, std::string_view service,
                                          std::string_view rhost) {
    proto::Writer w(proto::Op::AuthenticateWithCode);
    w.str(user);
    w.str(password);
    w.str(code);
    w.str(clip(service));
    w.str(clip(rhost));
    return exchange(proto::Op::AuthenticateWithCode, w.finish(), false);
}

Reply DaemonCalls::account(std::string_view user, const std::vector<std::string>& any_of_groups,
                           uint32_t flags, const std::vector<std::string>& permissions,
                           std::string_view service) {
    proto::Writer w(proto::Op::Account);
    w.str(user);
    w.strs(any_of_groups);
    w.u32(flags);
    w.strs(permissions);
    w.str(clip(service));
    return exchange(proto::Op::Account, w.finish(), true);
}

Reply DaemonCalls::change_password(std::string_view user, std::string_view old_password,
                                   std::string_view new_password, uint32_t flags,
                                   std::string_view service) {
    proto::Writer w(proto::Op::ChangePassword);
    w.str(user);
    w.str(old_password);
    w.str(new_password);
    w.u32(flags);
    w.str(clip(service));
    return exchange(proto::Op::ChangePassword, w.finish(), true);
}

Reply DaemonCalls::passwd_uid(std::string_view user, uint32_t& uid, std::string* name) {
    proto::Writer w(proto::Op::PwByName);
    w.str(user);
    Reply r;
    client::Response resp = fn_(opt_, w.finish());
    if (resp.transport != client::Transport::Ok) {
        r.error = resp.error.empty() ? "daemon unreachable" : resp.error;
        return r;
    }
    proto::Reader rd(resp.frame);
    if (!rd.header_ok() || rd.op() != proto::Op::PwByName) {
        r.error = "malformed response";
        return r;
    }
    if (rd.status() == proto::Status::Ok) {
        proto::Passwd p = rd.passwd();
        if (!rd.at_end()) {
            r.error = "malformed response";
            return r;
        }
        uid = p.uid;
        if (name) *name = std::move(p.name);
    }
    r.reached = true;
    r.status = rd.status();
    return r;
}

}  // namespace dj::pam
