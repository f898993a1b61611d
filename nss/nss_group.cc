// group entry points: getgrnam_r, getgrgid_r, setgrent, getgrent_r, endgrent
// (the shape is nss/map.h's).
#include <grp.h>

#include "nss/map.h"
#include "nss/pack.h"

namespace dj::nss {
namespace {

constexpr MapOps<struct group, gid_t, proto::GroupView, proto::Group> kOps{
    &gr_by_name, &gr_by_gid, &gr_page, &proto::GroupView::gid, &proto::Group::gid, &pack_group, &pack_group};
using Map = NssMap<kOps>;

}  // namespace
}  // namespace dj::nss

using dj::nss::Map;

DJ_NSS_EXPORT enum nss_status _nss_django_getgrnam_r(const char* name, struct group* result,
                                                     char* buf, size_t buflen, int* errnop) {
    return Map::by_name(name, result, buf, buflen, errnop);
}

DJ_NSS_EXPORT enum nss_status _nss_django_getgrgid_r(gid_t gid, struct group* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return Map::by_id(gid, result, buf, buflen, errnop);
}

DJ_NSS_EXPORT enum nss_status _nss_django_setgrent(int /*stayopen*/) { return Map::reset(); }

DJ_NSS_EXPORT enum nss_status _nss_django_endgrent(void) { return Map::reset(); }

DJ_NSS_EXPORT enum nss_status _nss_django_getgrent_r(struct group* result, char* buf,
                                                     size_t buflen, int* errnop) {
    return Map::next(result, buf, buflen, errnop);
}
