// passwd entry points: getpwnam_r, getpwuid_r, setpwent, getpwent_r, endpwent
// (the shape is nss/map.h's).
#include <pwd.h>

#include "nss/map.h"
#include "nss/pack.h"

namespace dj::nss {
namespace {

constexpr MapOps<struct passwd, uid_t, proto::PasswdView, proto::Passwd> kOps{
    &pw_by_name, &pw_by_uid, &pw_page, &proto::PasswdView::uid, &proto::Passwd::uid, &pack_passwd, &pack_passwd};
using Map = NssMap<kOps>;

}  // namespace
}  // namespace dj::nss

using dj::nss::Map;

DJ_NSS_EXPORT enum nss_status _nss_django_getpwnam_r(const char* name, struct passwd* result,
                                                     char* buf, size_t buflen, int* errnop) {
    return Map::by_name(name, result, buf, buflen, errnop);
}

DJ_NSS_EXPORT enum nss_status _nss_django_getpwuid_r(uid_t uid, struct passwd* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return Map::by_id(uid, result, buf, buflen, errnop);
}

DJ_NSS_EXPORT enum nss_status _nss_django_setpwent(int /*stayopen*/) { return Map::reset(); }

DJ_NSS_EXPORT enum nss_status _nss_django_endpwent(void) { return Map::reset(); }

DJ_NSS_EXPORT enum nss_status _nss_django_getpwent_r(struct passwd* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return Map::next(result, buf, buflen, errnop);
}
