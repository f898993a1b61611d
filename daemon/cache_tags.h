// What a cached answer was read from, so that push invalidation
// (daemon/invalidation.*) drops exactly the answers a change touches. Every
// answer the lookup handlers cache carries the tags below; a change drops
// every entry carrying one of the tags it maps to:
//
//   tag                 carried by                          dropped by
//   user(ID)            the user's passwd answers (by name  user:ID
//                       and by uid) and the user's groups
//   memberships(ID)     the user's groups                   member:ID:*
//   group(ID)           the group's answers (by name, by    group:ID, member:*:ID
//                       gid) and the groups of every user
//                       who is in it in Django
//   groups()            every group answer and group page   user:* (members are
//                       (they carry member names)           user names)
//   user_pages()        every page of the user enumeration  user:*
//   group_pages()       every page of the group enumeration group:*
//   not_found()         every negative answer               user:*, group:*
//   keys(ID)            the user's SSH keys (AuthorizedKeys) key:ID
//   access()            every AuthorizedKeys answer, which  group:*
//                       the [access] rule of sshd decides
//                       by group names
//
// An AuthorizedKeys answer of a user the database has also carries user(ID)
// and memberships(ID): deactivated, renamed, or moved in or out of a group.
// A negative answer is a name or id that matched nothing: any new or renamed
// user or group may be it, and nothing says which.
#pragma once

#include <cstdint>
#include <string>

namespace dj::cache_tag {

inline std::string user(int64_t id) { return "u" + std::to_string(id); }
inline std::string memberships(int64_t user_id) { return "m" + std::to_string(user_id); }
inline std::string group(int64_t id) { return "g" + std::to_string(id); }
inline std::string groups() { return "G"; }
inline std::string user_pages() { return "Pu"; }
inline std::string group_pages() { return "Pg"; }
inline std::string not_found() { return "N"; }
inline std::string keys(int64_t user_id) { return "k" + std::to_string(user_id); }
inline std::string access() { return "A"; }

}  // namespace dj::cache_tag
