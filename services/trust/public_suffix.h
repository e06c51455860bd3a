// PublicSuffixList: the Public Suffix List (publicsuffix.org), as Debian's `publicsuffix`
// package ships it, for the web-PKI rule that a wildcard may not cover a public suffix
// (CA/B Forum BR 3.2.2.6: "*.co.uk" and "*.s3.amazonaws.com" are refused like "*.com").
//
//   const PublicSuffixList& psl = PublicSuffixList::Default();
//   psl.IsPublicSuffix("co.uk");        // true
//   psl.IsPublicSuffix("example.co.uk");  // false
//
// Rules with non-ASCII labels are stored as their IDNA A-labels ("xn--..."), the form a
// certificate's dNSName holds. Immutable after construction; thread-safe.
#ifndef SERVICES_TRUST_PUBLIC_SUFFIX_H_
#define SERVICES_TRUST_PUBLIC_SUFFIX_H_

#include <optional>
#include <string>
#include <unordered_set>

#include "absl/strings/string_view.h"

namespace edge::trust {

class PublicSuffixList {
 public:
  // Where Debian's publicsuffix package puts the list.
  static constexpr const char* kDebianPath = "/usr/share/publicsuffix/public_suffix_list.dat";

  // The list in `dat` (public_suffix_list.dat syntax: one rule a line, "//" comments,
  // "*." wildcard and "!" exception rules). Lines that are no rule are ignored.
  static PublicSuffixList Parse(absl::string_view dat);

  // The list at kDebianPath, read on first use. When that file cannot be read, the list
  // holds only the PSL's implicit rule "*" (every top-level label is a public suffix), and
  // loaded() is false.
  static const PublicSuffixList& Default();

  // Whether `domain` (ASCII, A-labels, no trailing dot; case-insensitive) is itself a public
  // suffix under the PSL algorithm: listed, or matched by a wildcard rule and not excepted,
  // or a single label (the implicit "*" rule).
  bool IsPublicSuffix(absl::string_view domain) const;

  bool loaded() const { return loaded_; }
  size_t size() const { return exact_.size() + wildcard_.size() + exception_.size(); }

 private:
  PublicSuffixList() = default;

  std::unordered_set<std::string> exact_;      // "co.uk"
  std::unordered_set<std::string> wildcard_;   // "bd" for "*.bd"
  std::unordered_set<std::string> exception_;  // "www.ck" for "!www.ck"
  bool loaded_ = false;
};

// The IDNA A-label of one label: "xn--" + RFC 3492 Punycode of its code points when it has
// a non-ASCII character, else the label itself. nullopt when `utf8` is not valid UTF-8.
std::optional<std::string> ToALabel(absl::string_view utf8);

}  // namespace edge::trust

#endif  // SERVICES_TRUST_PUBLIC_SUFFIX_H_
