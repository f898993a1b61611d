// The requests pam_django.so makes to django-authd, built and read with
// dj::proto and sent with dj::client::call. The transport is a plain function
// so the unit tests can put a fake daemon behind it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"

namespace dj::pam {

struct Reply {
    // True when a well-formed answer to our request came back; `status` is
    // then the daemon's. False: no daemon, timeout, garbage (see `error`).
    bool reached = false;
    proto::Status status = proto::Status::Unavailable;
    std::string text;    // Account: reason; ChangePassword: message
    // Throttled: the lock's seconds left (0: busy, not locked; 0xFFFFFFFF:
    // until reset); nullopt when the daemon sent none.
    std::optional<uint32_t> locked_for;
    std::string error;   // why not reached, for the log
};

using CallFn = std::function<client::Response(const client::Options&,
                                              const std::vector<uint8_t>&)>;

class DaemonCalls {
public:
    explicit DaemonCalls(client::Options opt, CallFn fn = {});

    // `otp` (proto::OtpFlags) is sent only when not 0: a daemon without
    // one-time codes then still understands the request.
    Reply authenticate(std::string_view user, std::string_view password,
                       std::string_view service, std::string_view rhost, uint32_t otp = 0);
    Reply authenticate_with_code(std::string_view user, std::string_view password,
                                 std::string_view code, std::string_view service,
                                 std::string_view rhost);
    Reply account(std::string_view user, const std::vector<std::string>& any_of_groups,
                  uint32_t flags, const std::vector<std::string>& permissions,
                  std::string_view service);
    Reply change_password(std::string_view user, std::string_view old_password,
                          std::string_view new_password, uint32_t flags,
                          std::string_view service);
    // PwByName: the uid the daemon serves for `user` (in `uid` when the
    // status is Ok; NotFound when it serves none), and the name it is
    // stored under (in `*name`, when given: it may differ from `user` in
    // case or trailing spaces where the database compares names so, MySQL).
    Reply passwd_uid(std::string_view user, uint32_t& uid, std::string* name = nullptr);

private:
    Reply exchange(proto::Op op, std::vector<uint8_t>& frame, bool has_text);

    client::Options opt_;
    CallFn fn_;
};

}  // namespace dj::pam
