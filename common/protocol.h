// The wire protocol between django-authd and its clients (pam_django.so,
// libnss_django.so.2, django-authctl). This header is its one definition.
//
// Transport: a SOCK_STREAM Unix socket (default /run/django-auth/socket).
// A client sends one request frame and reads one response frame; it may send
// further requests on the same connection. The daemon closes idle connections
// (idle_timeout), and a connection whose request (or whose reading of an
// answer) does not complete within request_timeout of its first byte; each
// caller uid but root and the auth clients holds at most
// max_connections_per_uid connections (see django-auth.conf(5)).
//
// Frame (requests and responses alike), all integers big-endian:
//
//   u32  length    bytes that follow; a request is at most kMaxRequest, a
//                  response at most kMaxResponse. Anything larger is refused
//                  and the connection closed; nobody trusts a length.
//   u8   version   kProtocolVersion. A daemon answers a request of another
//                  version with status BadVersion and closes.
//   u8   op        the Op of the request; a response repeats it.
//   u8   status    0 in requests; a Status in responses.
//   u8   reserved  0.
//   ...  body      the fields of the op, in the order listed below.
//
// Field types:
//   u32   4 bytes, big-endian.
//   str   u32 byte count, then the bytes. No NUL inside, at most kMaxString.
//   list  u32 item count (at most kMaxListItems), then the items.
//
// Records:
//   passwd = str name, u32 uid, u32 gid, str gecos, str dir, str shell
//            (the password field is always "x": hashes never leave the daemon)
//   group  = str name, u32 gid, list<str> members
//
// Ops (request body -> response body when status is Ok):
//   Hello          -                              -> str daemon_version, u32 protocol_version
//   Authenticate   str user, str password, str service, str rhost
//                  [, u32 otp (OtpFlags): only when the module asks for
//                  one-time codes; without it, no code is ever asked]
//                                                 -> -
//                  Ok | WrongPassword | NoUser (unknown or inactive, Django's None)
//                  | Unavailable | Denied (caller not allowed)
//                  | Throttled -> u32 locked_for: the seconds the lockout has
//                    left ([throttle]: the user, or the user from this
//                    client), 0xFFFFFFFF until an administrator resets it, 0
//                    when nobody is locked out but the daemon is too busy
//                    (its queue is full); try later
//                  With otp: CodeRequired (the password is right and the user
//                  has a confirmed device: ask for a code, then send
//                  AuthenticateWithCode; nothing was counted, no success,
//                  no last_login) | PermDenied (kOtpRequired, the password is
//                  right, and the user has no confirmed device) | Disabled
//                  (the daemon's [otp] is off: it cannot tell who has a device).
//                  kOtpConcat: the password may end with the code (the last
//                  `digits` characters, for each of the user's devices); Ok
//                  then means both were right, and CodeRequired never comes.
//   AuthenticateWithCode
//                  str user, str password, str code, str service, str rhost
//                                                 -> -
//                  The password is checked again as by Authenticate, then the
//                  code against the user's confirmed devices, as django-otp's
//                  TOTPDevice.verify_token does (the accepted step is stored:
//                  a code is never accepted twice). Stateless: the code is
//                  never checked without the right password.
//                  Ok | WrongPassword (the password, or the code: a failure
//                  for the throttle either way) | NoUser | Throttled (as
//                  Authenticate) | Unavailable | Denied | Disabled ([otp] off).
//                  A daemon older than this op answers BadRequest; the module
//                  then fails (PAM_AUTHINFO_UNAVAIL), as it does when an old
//                  daemon answers BadRequest to an Authenticate with otp.
//   Account        str user, list<str> any_of_groups, u32 flags (AccountFlags),
//                  list<str> permissions ("app_label.codename", all required),
//                  str service
//                                                 -> str reason (also with PermDenied)
//                  Ok | Inactive | NoUser | PermDenied | Unavailable
//                  | Denied (caller not allowed; reason "caller not allowed")
//   ChangePassword str user, str old_password, str new_password, u32 flags
//                  (ChangeFlags::CheckOnly: verify the old password only),
//                  str service
//                                                 -> str message (also on failure;
//                                                    Django's validators' words
//                                                    with BadRequest, empty when
//                                                    there is nothing to add)
//                  Ok | WrongPassword | NoUser | Disabled | Unavailable | Denied
//                  | BadRequest (the new password is refused)
//                  | Throttled -> str message, u32 locked_for (as Authenticate)
//
// `service` is the caller's PAM_SERVICE: the daemon's [access] rule for it
// decides who may log in (an empty service takes the default rule). A user
// the rule leaves out is NoUser to Authenticate and ChangePassword (after the
// same dummy hash as an unknown user) and PermDenied to Account. A user whose
// name or id the host uses or reserves (daemon/host_names.h) is NoUser to
// every op and NotFound to every lookup, and never appears in a list.
//   PwByName       str name                       -> passwd      (or NotFound)
//   PwByUid        u32 uid                        -> passwd      (or NotFound)
//   PwList         u32 after_uid, u32 max_items   -> list<passwd>, u32 more (0|1)
//   GrByName       str name                       -> group       (or NotFound)
//   GrByGid        u32 gid                        -> group       (or NotFound)
//   GrList         u32 after_gid, u32 max_items   -> list<group>, u32 more (0|1)
//   GroupsOfUser   str user                       -> list<u32 gid> (or NotFound)
//   AuthorizedKeys str user                       -> list<str> key lines (sshd's
//                  AuthorizedKeysCommand; each item one checked authorized_keys
//                  line, without a newline: daemon/ssh_keys.h)
//                  Ok (maybe no keys) | NoUser (unknown, inactive, hidden by the
//                  host's names, or left out by the [access] rule of sshd)
//                  | Disabled ([ssh] authorized_keys = no) | Unavailable
//                  | Denied (caller not root nor in [ssh] clients)
//                  Added within version 2: an older daemon answers BadRequest.
//   Flush          -                              -> -   (uid 0 only, else Denied)
//   Stats          -                              -> str text (one "key value" per line)
//                                                        (else Denied, see below)
//   ThrottleList   str user ("" for every record) -> u32 count, then per record:
//                  str kind ("user" | "client"), str name, u32 failures
//                  (within fail_interval), u32 locked_for (seconds left;
//                  0 not locked; 0xFFFFFFFF until reset)   (uid 0 only)
//   ThrottleReset  str kind ("user" | "client"), str name
//                                                 -> -   Ok | NotFound (no record)
//                                                        (uid 0 only, else Denied)
//
// Enumeration is paged by id: the client asks for entries with an id greater
// than the last one it saw. The daemon may return fewer than max_items (it
// keeps each response under kMaxResponse); `more` says whether to ask again.
//
// Who may ask: every local user may look up (NSS runs in every process) and
// say Hello; Authenticate, AuthenticateWithCode, ChangePassword, Account (staff, superuser, groups,
// permissions) and Stats (database name, counters) only uid 0 and the
// config's auth_clients (SO_PEERCRED); AuthorizedKeys only uid 0 and [ssh]
// clients; Flush, ThrottleList and ThrottleReset
// only uid 0. Anyone else gets Denied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dj::proto {

// 2: Account and ChangePassword carry the PAM service. Throttled's locked_for
// came later within 2, without a new version: it is a field at the end of an
// answer, which an older reader never reads (and a newer reader that finds
// none says "try later"), while a new version would make every login fail
// between a package upgrade and the daemon's restart.
inline constexpr uint8_t kProtocolVersion = 2;
inline constexpr size_t kHeaderSize = 4;          // version, op, status, reserved
inline constexpr size_t kMaxRequest = 64 * 1024;  // passwords, names: small
inline constexpr size_t kMaxResponse = 16 * 1024 * 1024;  // a group of 100k+ members
inline constexpr size_t kMaxString = 8 * 1024;
inline constexpr uint32_t kMaxListItems = 4 * 1024 * 1024;
inline constexpr const char* kDefaultSocket = "/run/django-auth/socket";

enum class Op : uint8_t {
    Hello = 1,
    Authenticate = 2,
    Account = 3,
    ChangePassword = 4,
    AuthenticateWithCode = 5,
    PwByName = 10,
    PwByUid = 11,
    PwList = 12,
    GrByName = 20,
    GrByGid = 21,
    GrList = 22,
    GroupsOfUser = 23,
    AuthorizedKeys = 24,
    Flush = 30,
    Stats = 31,
    ThrottleList = 32,
    ThrottleReset = 33,
};

enum class Status : uint8_t {
    Ok = 0,
    NotFound = 1,
    WrongPassword = 2,
    NoUser = 3,        // no such user, or inactive (Django's None)
    Inactive = 4,      // account phase: the user exists but is not active
    PermDenied = 5,    // account phase: a requirement is not met
    Unavailable = 6,   // the database cannot be reached
    Denied = 7,        // the caller may not use this op
    Disabled = 8,      // the feature is off in the daemon's config
    BadRequest = 9,    // malformed frame or field
    BadVersion = 10,
    Throttled = 11,    // too many failures (locked out, [throttle]) or too busy; try later
    CodeRequired = 12, // the password is right; a one-time code must follow (AuthenticateWithCode)
};

// Authenticate's optional u32: which one-time code policy the PAM service has.
enum OtpFlags : uint32_t {
    kOtpIfEnrolled = 1u << 0,   // a code from users with a confirmed device
    kOtpRequired = 1u << 1,     // a code from everyone; no device: refused
    kOtpConcat = 1u << 2,       // the code is the end of the password (one prompt only)
};

enum AccountFlags : uint32_t {
    kRequireStaff = 1u << 0,
    kRequireSuperuser = 1u << 1,
};

enum ChangeFlags : uint32_t {
    kCheckOnly = 1u << 0,
};

const char* status_name(Status s) noexcept;
const char* op_name(Op op) noexcept;

// A passwd record: owning (S = std::string) or read in place (S =
// std::string_view, views into the frame it came from, valid as long as the
// frame is; the NSS module's warm path packs those straight into the
// caller's buffer, with no allocation).
template <typename S>
struct BasicPasswd {
    S name;
    uint32_t uid = 0;
    uint32_t gid = 0;
    S gecos;
    S dir;
    S shell;
};

// A string list as it is on the wire (each item: u32 length, bytes), already
// checked by Reader::strs_view: iterating it needs no further checks.
class StrListView {
public:
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = std::string_view;
        iterator() = default;
        explicit iterator(const char* p) : p_(p) {}
        std::string_view operator*() const;
        iterator& operator++() {
            p_ += 4 + (**this).size();
            return *this;
        }
        iterator operator++(int) {
            iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const iterator& o) const { return p_ == o.p_; }

    private:
        const char* p_ = nullptr;
    };
    StrListView() = default;
    StrListView(std::string_view items, uint32_t count) : items_(items), count_(count) {}
    uint32_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    iterator begin() const { return iterator(items_.data()); }
    iterator end() const { return iterator(items_.data() + items_.size()); }

private:
    std::string_view items_;
    uint32_t count_ = 0;
};

// A group record, owning or in place (L = StrListView), as BasicPasswd.
template <typename S, typename L>
struct BasicGroup {
    S name;
    uint32_t gid = 0;
    L members;
};

using Passwd = BasicPasswd<std::string>;
using PasswdView = BasicPasswd<std::string_view>;
using Group = BasicGroup<std::string, std::vector<std::string>>;
using GroupView = BasicGroup<std::string_view, StrListView>;

// Builds one frame: the constructor writes the length placeholder and the
// header, the field methods append, finish() fills in the length.
class Writer {
public:
    Writer(Op op, Status status = Status::Ok);
    void u32(uint32_t v);
    void str(std::string_view s);   // throws std::length_error past kMaxString
    void strs(const std::vector<std::string>& v);
    void passwd(const Passwd& p);
    void group(const Group& g);
    // The finished frame. Throws std::length_error past kMaxResponse.
    std::vector<uint8_t>& finish();
    size_t size() const { return buf_.size(); }

private:
    std::vector<uint8_t> buf_;
};

// Reads fields from a frame body. Every read is bounds-checked; a failed read
// sets the reader bad and returns an empty value, so callers check ok() once
// at the end.
class Reader {
public:
    // `frame` is the whole frame without the leading u32 length.
    explicit Reader(std::string_view frame);
    bool header_ok() const { return header_ok_; }
    uint8_t version() const { return version_; }
    Op op() const { return op_; }
    Status status() const { return status_; }

    uint32_t u32();
    std::string str();
    std::vector<std::string> strs();
    Passwd passwd();
    Group group();
    // In place: views into the frame (see PasswdView).
    std::string_view str_view();
    StrListView strs_view();
    PasswdView passwd_view();
    GroupView group_view();
    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && pos_ == data_.size(); }

private:
    std::string_view data_;
    size_t pos_ = 0;
    bool ok_ = true;
    bool header_ok_ = false;
    uint8_t version_ = 0;
    Op op_{};
    Status status_{};
};

// Big-endian length prefix helpers for the transport code.
uint32_t read_be32(const uint8_t* p) noexcept;
void write_be32(uint8_t* p, uint32_t v) noexcept;

}  // namespace dj::proto
