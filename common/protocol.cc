// Encoding and decoding of the frames described in protocol.h.
#include "common/protocol.h"

#include <cstring>
#include <stdexcept>

namespace dj::proto {

uint32_t read_be32(const uint8_t* p) noexcept {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void write_be32(uint8_t* p, uint32_t v) noexcept {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

const char* status_name(Status s) noexcept {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::NotFound: return "not found";
        case Status::WrongPassword: return "wrong password";
        case Status::NoUser: return "no such user or inactive";
        case Status::Inactive: return "inactive";
        case Status::PermDenied: return "permission denied";
        case Status::Unavailable: return "unavailable";
        case Status::Denied: return "caller not allowed";
        case Status::Disabled: return "disabled";
        case Status::BadRequest: return "bad request";
        case Status::BadVersion: return "bad protocol version";
        case Status::Throttled: return "throttled";
        case Status::CodeRequired: return "code required";
    }
    return "unknown status";
}

const char* op_name(Op op) noexcept {
    switch (op) {
        case Op::Hello: return "hello";
        case Op::Authenticate: return "authenticate";
        case Op::Account: return "account";
        case Op::ChangePassword: return "change-password";
        case Op::AuthenticateWithCode: return "authenticate-with-code";
        case Op::PwByName: return "pw-by-name";
        case Op::PwByUid: return "pw-by-uid";
        case Op::PwList: return "pw-list";
        case Op::GrByName: return "gr-by-name";
        case Op::GrByGid: return "gr-by-gid";
        case Op::GrList: return "gr-list";
        case Op::GroupsOfUser: return "groups-of-user";
        case Op::AuthorizedKeys: return "authorized-keys";
        case Op::Flush: return "flush";
        case Op::Stats: return "stats";
        case Op::ThrottleList: return "throttle-list";
        case Op::ThrottleReset: return "throttle-reset";
    }
    return "unknown op";
}

// --- Writer ---------------------------------------------------------------------

Writer::Writer(Op op, Status status) {
    buf_.reserve(256);
    buf_.resize(4 + kHeaderSize);
    buf_[4] = kProtocolVersion;
    buf_[5] = static_cast<uint8_t>(op);
    buf_[6] = static_cast<uint8_t>(status);
    buf_[7] = 0;
}

void Writer::u32(uint32_t v) {
    uint8_t b[4];
    write_be32(b, v);
    buf_.insert(buf_.end(), b, b + 4);
}

void Writer::str(std::string_view s) {
    if (s.size() > kMaxString) throw std::length_error("protocol string too long");
    u32(static_cast<uint32_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
}

void Writer::strs(const std::vector<std::string>& v) {
    if (v.size() > kMaxListItems) throw std::length_error("protocol list too long");
    u32(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) str(s);
}

void Writer::passwd(const Passwd& p) {
    str(p.name);
    u32(p.uid);
    u32(p.gid);
    str(p.gecos);
    str(p.dir);
    str(p.shell);
}

void Writer::group(const Group& g) {
    str(g.name);
    u32(g.gid);
    strs(g.members);
}

std::vector<uint8_t>& Writer::finish() {
    if (buf_.size() - 4 > kMaxResponse) throw std::length_error("protocol frame too long");
    write_be32(buf_.data(), static_cast<uint32_t>(buf_.size() - 4));
    return buf_;
}

// --- Reader ---------------------------------------------------------------------

Reader::Reader(std::string_view frame) : data_(frame) {
    if (data_.size() < kHeaderSize) {
        ok_ = false;
        return;
    }
    version_ = static_cast<uint8_t>(data_[0]);
    op_ = static_cast<Op>(static_cast<uint8_t>(data_[1]));
    status_ = static_cast<Status>(static_cast<uint8_t>(data_[2]));
    header_ok_ = version_ == kProtocolVersion && data_[3] == 0;
    pos_ = kHeaderSize;
}

uint32_t Reader::u32() {
    if (!ok_ || data_.size() - pos_ < 4) {
        ok_ = false;
        return 0;
    }
    uint32_t v = read_be32(reinterpret_cast<const uint8_t*>(data_.data() + pos_));
    pos_ += 4;
    return v;
}

std::string_view Reader::str_view() {
    uint32_t n = u32();
    if (!ok_ || n > kMaxString || data_.size() - pos_ < n) {
        ok_ = false;
        return {};
    }
    std::string_view s = data_.substr(pos_, n);
    if (s.find('\0') != std::string_view::npos) {
        ok_ = false;
        return {};
    }
    pos_ += n;
    return s;
}

std::string Reader::str() { return std::string(str_view()); }

StrListView Reader::strs_view() {
    uint32_t n = u32();
    // Each item needs at least its 4-byte length: a count the remaining bytes
    // cannot hold is a lie, and we must not reserve memory for it.
    if (!ok_ || n > kMaxListItems || (data_.size() - pos_) / 4 < n) {
        ok_ = false;
        return {};
    }
    const size_t start = pos_;
    for (uint32_t i = 0; i < n && ok_; ++i) str_view();
    if (!ok_) return {};
    return StrListView(data_.substr(start, pos_ - start), n);
}

std::vector<std::string> Reader::strs() {
    StrListView l = strs_view();
    return std::vector<std::string>(l.begin(), l.end());
}

PasswdView Reader::passwd_view() {
    PasswdView p;
    p.name = str_view();
    p.uid = u32();
    p.gid = u32();
    p.gecos = str_view();
    p.dir = str_view();
    p.shell = str_view();
    return p;
}

GroupView Reader::group_view() {
    GroupView g;
    g.name = str_view();
    g.gid = u32();
    g.members = strs_view();
    return g;
}

Passwd Reader::passwd() {
    PasswdView v = passwd_view();
    return Passwd{std::string(v.name), v.uid, v.gid, std::string(v.gecos), std::string(v.dir),
                  std::string(v.shell)};
}

Group Reader::group() {
    GroupView v = group_view();
    return Group{std::string(v.name), v.gid, std::vector<std::string>(v.members.begin(), v.members.end())};
}

std::string_view StrListView::iterator::operator*() const {
    return std::string_view(p_ + 4, read_be32(reinterpret_cast<const uint8_t*>(p_)));
}

}  // namespace dj::proto
