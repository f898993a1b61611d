// One NSS map's entry points, written once. passwd and group have the same
// five: by name, by id, setent, getent, endent (glibc's nss_passwd and
// nss_group). A map file (nss_passwd.cc, nss_group.cc) names its lookups,
// ids and packing in a MapOps constant and exports one line per entry point
// that calls NssMap<its MapOps>; cf. nss-pam-ldapd's NSS_GETONE/NSS_GETENT
// macros.
#pragma once

#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nss/entry.h"
#include "nss/lookup.h"

namespace dj::nss {

// What a map is made of: its lookups (nss/lookup.h), where the id is in a
// looked-up view and in an enumerated record, and the packing of each into
// the caller's buffer (nss/pack.h: 0 or ERANGE).
template <typename EntryT, typename IdT, typename ViewT, typename RecordT>
struct MapOps {
    using Entry = EntryT;
    using Id = IdT;
    using View = ViewT;
    using Record = RecordT;
    Result (*by_name)(const char* name, View& out);
    Result (*by_id)(Id id, View& out);
    Result (*page)(uint32_t after, uint32_t max_items, std::vector<Record>& out, bool& more);
    uint32_t View::*view_id;
    uint32_t Record::*record_id;
    int (*pack_view)(const View& v, Entry* out, char* buf, size_t buflen) noexcept;
    int (*pack_record)(const Record& r, Entry* out, char* buf, size_t buflen) noexcept;
};

template <const auto& Ops>
struct NssMap {
    using Entry = typename std::remove_cvref_t<decltype(Ops)>::Entry;
    using Id = typename std::remove_cvref_t<decltype(Ops)>::Id;
    using View = typename std::remove_cvref_t<decltype(Ops)>::View;
    using Record = typename std::remove_cvref_t<decltype(Ops)>::Record;

    static enum nss_status by_name(const char* name, Entry* result, char* buf, size_t buflen,
                                   int* errnop) noexcept {
        return guarded(errnop, [&] {
            View v;
            Result r = Ops.by_name(name, v);
            if (r != Result::Ok) return failed(r, errnop);
            // The entry may carry another spelling than the one asked for: the
            // daemon finds names as the database compares them (MySQL's default
            // collations ignore case and trailing spaces, as Django there does)
            // and answers with the stored name, as sssd does for
            // case-insensitive domains.
            return answer(v, result, buf, buflen, errnop);
        });
    }

    static enum nss_status by_id(Id id, Entry* result, char* buf, size_t buflen, int* errnop) noexcept {
        return guarded(errnop, [&] {
            View v;
            Result r = Ops.by_id(id, v);
            if (r != Result::Ok) return failed(r, errnop);
            if (v.*Ops.view_id != id) return failed(Result::NotFound, errnop);
            return answer(v, result, buf, buflen, errnop);
        });
    }

    // setent and endent both forget the enumeration.
    static enum nss_status reset() noexcept {
        int err = 0;
        return guarded(&err, [] {
            enumeration().reset();
            return NSS_STATUS_SUCCESS;
        });
    }

    static enum nss_status next(Entry* result, char* buf, size_t buflen, int* errnop) noexcept {
        return guarded(errnop, [&] {
            return enumeration().next(errnop, [&](const Record& rec) {
                return Ops.pack_record(rec, result, buf, buflen);
            });
        });
    }

private:
    // Never destroyed: the fork handlers keep its mutex, and a thread may
    // still enumerate while the process exits.
    static Enumeration<Record>& enumeration() {
        static auto* e = new Enumeration<Record>(Ops.page, [](const Record& rec) { return rec.*Ops.record_id; });
        return *e;
    }

    static enum nss_status answer(const View& v, Entry* result, char* buf, size_t buflen, int* errnop) noexcept {
        if (Ops.pack_view(v, result, buf, buflen) != 0) {
            keep_last_reply();
            return set(errnop, ERANGE, NSS_STATUS_TRYAGAIN);
        }
        return NSS_STATUS_SUCCESS;
    }
};

}  // namespace dj::nss
