/* kvdb.h: the computation's key-value databases, as DMTCP 5's dmtcp::kvdb.
 *
 * The coordinator keeps named databases of keys and values for as long as it
 * runs; any process of the computation (a plugin at DMTCP_EVENT_RESTART, say)
 * sets a value, and any other gets it. Besides get and set, 64-bit integer
 * requests (the value becomes old OP val; the old value is answered; the first
 * request on a key sets it and answers KEY_NOT_FOUND).
 * C++ (-std=c++11 or later); the requests go through the agent. */
#ifndef __DMTCP_KVDB_H__
#define __DMTCP_KVDB_H__

#include <stdint.h>
#include <sys/types.h>
#include <ostream>
#include <string>

extern "C" int dmtcp_kvdb_request(int op, const char *id, const void *key, size_t key_len, const void *val, size_t val_len,
                                  char *old, size_t old_cap, size_t *old_len) __attribute__((weak));

namespace dmtcp {
#ifndef DMTCP_STRING_TYPE_DEFINED
#define DMTCP_STRING_TYPE_DEFINED
typedef std::string string;   /* DMTCP 5's has its own allocator; the interface is the same */
#endif
namespace kvdb {
enum class KVDBRequest { GET, SET, INCRBY, AND, OR, XOR, MIN, MAX };
enum class KVDBResponse { SUCCESS, INVALID_REQUEST, DB_NOT_FOUND, KEY_NOT_FOUND };

inline KVDBResponse request(KVDBRequest request, string const &id, string const &key, string const &val, string *oldVal = nullptr) {
  if (!dmtcp_kvdb_request) return KVDBResponse::DB_NOT_FOUND;   /* not under the checkpointer */
  static const size_t cap = 8192;
  char old[cap];
  size_t n = 0;
  int r = dmtcp_kvdb_request(static_cast<int>(request), id.c_str(), key.data(), key.size(),
                             request == KVDBRequest::GET ? nullptr : val.data(), val.size(), old, cap, &n);
  if (r < 0) return KVDBResponse::DB_NOT_FOUND;   /* no coordinator answered */
  if (oldVal && n) oldVal->assign(old, n);
  return static_cast<KVDBResponse>(r);
}

inline KVDBResponse get(string const &id, string const &key, string *oldVal) { return request(KVDBRequest::GET, id, key, string(), oldVal); }
inline KVDBResponse set(string const &id, string const &key, string const &val, string *oldVal = nullptr) {
  return request(KVDBRequest::SET, id, key, val, oldVal);
}

inline KVDBResponse request64(KVDBRequest req, string const &id, string const &key, int64_t val, int64_t *oldVal = nullptr) {
  string old;
  KVDBResponse r = request(req, id, key, std::to_string(static_cast<long long>(val)), &old);
  if (oldVal && !old.empty()) *oldVal = static_cast<int64_t>(std::stoll(old));
  return r;
}
inline KVDBResponse get64(string const &id, string const &key, int64_t *oldVal) { return request64(KVDBRequest::GET, id, key, 0, oldVal); }
inline KVDBResponse set64(string const &id, string const &key, int64_t val, int64_t *oldVal = nullptr) {
  return request64(KVDBRequest::SET, id, key, val, oldVal);
}

inline std::ostream &operator<<(std::ostream &o, const KVDBRequest &r) {
  static const char *const names[] = { "GET", "SET", "INCRBY", "AND", "OR", "XOR", "MIN", "MAX" };
  return o << names[static_cast<int>(r)];
}
inline std::ostream &operator<<(std::ostream &o, const KVDBResponse &r) {
  static const char *const names[] = { "SUCCESS", "INVALID_REQUEST", "DB_NOT_FOUND", "KEY_NOT_FOUND" };
  return o << names[static_cast<int>(r)];
}
}  // namespace kvdb
}  // namespace dmtcp

#endif /* __DMTCP_KVDB_H__ */
