// initgroups_dyn: the user's Django groups for getgrouplist/initgroups.
#include <grp.h>

#include "nss/entry.h"
#include "nss/lookup.h"
#include "nss/pack.h"

using namespace dj::nss;

DJ_NSS_EXPORT enum nss_status _nss_django_initgroups_dyn(const char* user, gid_t group,
                                                         long int* start, long int* size,
                                                         gid_t** groupsp, long int limit,
                                                         int* errnop) {
    return guarded(errnop, [&] {
        std::vector<uint32_t> gids;
        Result r = groups_of_user(user, gids);
        if (r != Result::Ok) return failed(r, errnop);
        if (add_gids(gids, group, start, size, groupsp, limit) != 0)
            return set(errnop, ENOMEM, NSS_STATUS_TRYAGAIN);
        return NSS_STATUS_SUCCESS;
    });
}
