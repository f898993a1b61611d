// passwd entry points: getpwnam_r, getpwuid_r, setpwent, getpwent_r, endpwent.
#include <pwd.h>

#include <cstring>

#include "nss/entry.h"
#include "nss/lookup.h"
#include "nss/pack.h"

namespace dj::nss {
namespace {

// Never destroyed: the fork handlers keep its mutex, and a thread may still
// enumerate while the process exits.
Enumeration<proto::Passwd>& pw_enum() {
    static auto* e = new Enumeration<proto::Passwd>(&pw_page, [](const proto::Passwd& p) { return p.uid; });
    return *e;
}

enum nss_status answer(const proto::PasswdView& p, struct passwd* result, char* buf, size_t buflen,
                       int* errnop) noexcept {
    if (pack_passwd(p, result, buf, buflen) != 0) {
        keep_last_reply();
        return set(errnop, ERANGE, NSS_STATUS_TRYAGAIN);
    }
    return NSS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace dj::nss

using namespace dj::nss;

DJ_NSS_EXPORT enum nss_status _nss_django_getpwnam_r(const char* name, struct passwd* result,
                                                     char* buf, size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        dj::proto::PasswdView p;
        Result r = pw_by_name(name, p);
        if (r != Result::Ok) return failed(r, errnop);
        // The entry may carry another spelling than the one asked for: the
        // daemon finds names as the database compares them (MySQL's default
        // collations ignore case and trailing spaces, as Django there does)
        // and answers with the stored name, as sssd does for
        // case-insensitive domains.
        return answer(p, result, buf, buflen, errnop);
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_getpwuid_r(uid_t uid, struct passwd* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        dj::proto::PasswdView p;
        Result r = pw_by_uid(uid, p);
        if (r != Result::Ok) return failed(r, errnop);
        if (p.uid != uid) return failed(Result::NotFound, errnop);
        return answer(p, result, buf, buflen, errnop);
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_setpwent(int /*stayopen*/) {
    int err = 0;
    return guarded(&err, [] {
        pw_enum().reset();
        return NSS_STATUS_SUCCESS;
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_endpwent(void) {
    int err = 0;
    return guarded(&err, [] {
        pw_enum().reset();
        return NSS_STATUS_SUCCESS;
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_getpwent_r(struct passwd* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        return pw_enum().next(errnop, [&](const dj::proto::Passwd& p) {
            return pack_passwd(p, result, buf, buflen);
        });
    });
}
