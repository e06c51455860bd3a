// The base types of the properties edged has seen declared: each read's answer carries its
// data shape (the platform's property definitions, or a local Thing's), and a write of a
// value that is not of that type, or does not convert to it without loss, is refused
// before it is sent or queued (issue 11: `"hot"` for a NUMBER is a 400 naming the property
// and both types), instead of being refused by the platform later, or not at all while
// offline.
//
// Bounded: at most `max_entries` properties and `max_bytes` of names held; the oldest learned
// is forgotten first (a forgotten type is learned again on the next read).
#ifndef EDGED_PROPERTY_TYPES_H_
#define EDGED_PROPERTY_TYPES_H_

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/alwayson/value.h"

namespace edge::edged {

class PropertyTypes {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr size_t kDefaultMaxBytes = 1 << 20;

  explicit PropertyTypes(size_t max_entries = kDefaultMaxEntries,
                         size_t max_bytes = kDefaultMaxBytes);

  // Every field of `answer` (the result of reading one or all properties of `thing`).
  void Learn(const std::string& thing, const alwayson::InfoTable& answer);
  std::optional<alwayson::BaseType> Find(const std::string& thing,
                                         const std::string& property) const;

  // `value` as a value of the type `property` was declared with: unchanged when its type is
  // unknown or the same; converted when it converts without loss (a number to INTEGER when
  // it is a whole number in range, to DATETIME as milliseconds; a string to any string type;
  // INTEGER to NUMBER); otherwise kInvalidArgument naming the Thing, the property and both
  // types.
  absl::StatusOr<alwayson::Value> Conform(const std::string& thing, const std::string& property,
                                          alwayson::Value value) const;

  size_t size() const;

 private:
  using Key = std::pair<std::string, std::string>;  // Thing, property.

  void ForgetOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_, max_bytes_;
  mutable absl::Mutex mu_;
  std::map<Key, alwayson::BaseType> types_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> order_ ABSL_GUARDED_BY(mu_);  // Oldest first; each key once.
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge::edged

#endif  // EDGED_PROPERTY_TYPES_H_
