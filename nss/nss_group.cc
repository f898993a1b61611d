// group entry points: getgrnam_r, getgrgid_r, setgrent, getgrent_r, endgrent.
#include <grp.h>

#include <cstring>

#include "nss/entry.h"
#include "nss/lookup.h"
#include "nss/pack.h"

namespace dj::nss {
namespace {

// Never destroyed: the fork handlers keep its mutex, and a thread may still
// enumerate while the process exits.
Enumeration<proto::Group>& gr_enum() {
    static auto* e = new Enumeration<proto::Group>(&gr_page, [](const proto::Group& g) { return g.gid; });
    return *e;
}

enum nss_status answer(const proto::GroupView& g, struct group* result, char* buf, size_t buflen,
                       int* errnop) noexcept {
    if (pack_group(g, result, buf, buflen) != 0) {
        keep_last_reply();
        return set(errnop, ERANGE, NSS_STATUS_TRYAGAIN);
    }
    return NSS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace dj::nss

using namespace dj::nss;

DJ_NSS_EXPORT enum nss_status _nss_django_getgrnam_r(const char* name, struct group* result,
                                                     char* buf, size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        dj::proto::GroupView g;
        Result r = gr_by_name(name, g);
        if (r != Result::Ok) return failed(r, errnop);
        // Another spelling may come back: see _nss_django_getpwnam_r.
        return answer(g, result, buf, buflen, errnop);
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_getgrgid_r(gid_t gid, struct group* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        dj::proto::GroupView g;
        Result r = gr_by_gid(gid, g);
        if (r != Result::Ok) return failed(r, errnop);
        if (g.gid != gid) return failed(Result::NotFound, errnop);
        return answer(g, result, buf, buflen, errnop);
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_setgrent(int /*stayopen*/) {
    int err = 0;
    return guarded(&err, [] {
        gr_enum().reset();
        return NSS_STATUS_SUCCESS;
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_endgrent(void) {
    int err = 0;
    return guarded(&err, [] {
        gr_enum().reset();
        return NSS_STATUS_SUCCESS;
    });
}

DJ_NSS_EXPORT enum nss_status _nss_django_getgrent_r(struct group* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return guarded(errnop, [&] {
        return gr_enum().next(errnop, [&](const dj::proto::Group& g) {
            return pack_group(g, result, buf, buflen);
        });
    });
}
